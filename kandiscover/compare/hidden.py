"""What did a seqKAN's hidden state learn?

:func:`hidden_state_analysis` runs a trained :class:`~kandiscover.SeqKAN` over
the windows of one split of a sequence dataset and relates its hidden state
to the dataset's hidden variables (for the pendulum: the string length ``L``
and its rate ``L_dot``), and its symbolic rules to the analytic definition of
the labels:

* **trajectories**: the hidden state after every step of every window, next
  to the hidden variables over the same steps;
* **correlations**: Spearman's rho of each hidden unit with each hidden
  variable, over the window-end values (the state the output reads);
* **rules**: the symbolified update and output rules
  (:func:`~kandiscover.symbolic.seqrules.symbolify_seqkan`) as sympy and LaTeX;
* **refined rules** (optional): the same rules with their constants fitted
  through the recurrence on the labels
  (:func:`~kandiscover.symbolic.seqrules.refine_rules`);
* **labels**: per label, the ROC-AUC of the trained model and of its
  symbolic copy (and of the refined rules), and (where the dataset defines
  it, see :func:`kandiscover.data.pendulum.analytic_decisions`) the Spearman
  correlation of the symbolic logit with the analytic decision value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..data.dataset import SequenceDataset, SequenceWindows
from ..errors import InputError
from ..kan.seqtrain import _labels
from ..symbolic.seqrules import SeqKANRules, refine_rules, symbolify_seqkan

__all__ = ["HiddenStateAnalysis", "hidden_state_analysis"]


@dataclass
class HiddenStateAnalysis:
    """The result of :func:`hidden_state_analysis` (arrays are numpy).

    ``hidden`` (n_windows, length, hidden_size) and ``variables`` name ->
    (n_windows, length) are aligned step by step; ``sequence`` and
    ``last_step`` locate each window's end in the dataset.  ``spearman`` maps
    each hidden variable to an array of rho per hidden unit.  ``labels`` maps
    each label to a dict with ``auc_model``, ``auc_symbolic`` and, when the
    dataset defines the label analytically, ``rho_analytic`` (Spearman of the
    symbolic logit with the analytic decision value) and ``auc_analytic``;
    with ``refined`` rules also ``auc_refined`` (and ``rho_analytic_refined``).
    ``decisions`` holds the logits (n_windows, n_labels) the AUCs were computed
    from: ``"model"``, and ``"symbolic"`` and ``"refined"`` where those rules
    were scored.
    """

    split: str
    hidden: np.ndarray
    variables: dict[str, np.ndarray]
    sequence: np.ndarray
    last_step: np.ndarray
    spearman: dict[str, np.ndarray]
    labels: dict[str, dict[str, float]] = field(default_factory=dict)
    rules: SeqKANRules | None = None
    refined: SeqKANRules | None = None
    decisions: dict[str, np.ndarray] = field(default_factory=dict)

    def best_unit(self) -> tuple[int, str, float]:
        """(unit index, variable name, rho) of the largest |rho|."""
        best = (-1, "", 0.0)
        for name, rho in self.spearman.items():
            for k, r in enumerate(rho):
                if np.isfinite(r) and abs(r) > abs(best[2]):
                    best = (k, name, float(r))
        return best

    def summary(self) -> str:
        lines = [f"split {self.split}: {len(self.hidden)} windows"]
        for name, rho in self.spearman.items():
            lines.append(f"  Spearman rho with {name}: "
                         + ", ".join(f"h{k + 1} {r:+.3f}" for k, r in enumerate(rho)))
        for what, rules in (("symbolic copy", self.rules), ("refined rules", self.refined)):
            if rules is not None:
                lines.append(f"  {what}:")
                lines += [f"    {t}" for t in rules.update_latex() + rules.output_latex()]
        for lab, d in self.labels.items():
            lines.append(f"  {lab}: " + ", ".join(f"{k} {v:.3f}" for k, v in d.items()))
        return "\n".join(lines)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any() or not np.isfinite(score).all():
        return float("nan")
    from sklearn.metrics import roc_auc_score      # imported when used: scipy.stats is slow
    return float(roc_auc_score(y, score))


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def hidden_state_analysis(model, dataset: SequenceDataset, split: str = "test_extrap", *,
                          window: int | None = None, stride: int | None = None,
                          variables: Sequence[str] | None = None,
                          symbolic: bool | SeqKANRules = True,
                          refined: bool | SeqKANRules = False, fit_split: str = "train",
                          lib: Sequence[str] | None = None,
                          max_samples: int = 3000) -> HiddenStateAnalysis:
    """Relate a trained seqKAN's hidden state and rules to the hidden truth.

    Parameters
    ----------
    model : a trained :class:`~kandiscover.SeqKAN` whose inputs are the
        dataset's sequence arrays (in their stored order) and whose outputs
        are its labels (in their stored order)
    dataset : a :class:`~kandiscover.SequenceDataset` with splits (and hidden
        variables for the correlations)
    split : the split to analyse
    window, stride : window length and stride (default: the dataset's
        ``window`` / ``stride`` attributes, else 50 and 5)
    variables : hidden variables to correlate with (default: all of them)
    symbolic : True to symbolify the model on ``fit_split``, False to skip
        the rules, or rules from :func:`symbolify_seqkan` to reuse
    refined : True to refine the symbolic rules (:func:`refine_rules`, default
        settings) on the windows and labels of ``fit_split``, validated on the
        ``"val"`` split when the dataset has one; False to skip; or rules from
        :func:`refine_rules` to reuse
    lib, max_samples : passed to :func:`symbolify_seqkan`
    """
    from ..data import pendulum
    from ..kan.seqkan import SeqKAN

    if not isinstance(model, SeqKAN):
        raise InputError(f"hidden_state_analysis expects a SeqKAN, got {type(model).__name__}")
    if not isinstance(dataset, SequenceDataset):
        raise InputError("hidden_state_analysis expects a SequenceDataset, got "
                         f"{type(dataset).__name__}")
    is_pendulum = dataset.attrs.get("source") == "kandiscover.data.pendulum"
    ds = pendulum.pendulum_view(dataset) if is_pendulum else dataset
    window = int(ds.attrs.get("window", 50)) if window is None else window
    stride = int(ds.attrs.get("stride", 5)) if stride is None else stride
    w: SequenceWindows = ds.windows(split, window, stride)
    if w.inputs.shape[2] != model.input_size:
        raise InputError(f"the dataset has {w.inputs.shape[2]} sequence features "
                         f"({', '.join(w.feature_names)}) but the model reads "
                         f"{model.input_size}")
    if w.labels.shape[1] != model.output_size:
        raise InputError(f"the dataset has {w.labels.shape[1]} labels but the model has "
                         f"{model.output_size} outputs")
    _labels(w.labels, f"the {split!r} split's labels", len(w), model.output_size)
    names = list(w.hidden) if variables is None else list(variables)
    missing = [n for n in names if n not in w.hidden]
    if missing:
        raise InputError(f"unknown hidden variable(s) {missing}; the dataset has "
                         f"{', '.join(w.hidden) or 'none'}")

    hidden = np.concatenate([model.hidden_states(w.inputs[i:i + 4096]).cpu().numpy()
                             for i in range(0, len(w), 4096)])
    spearman = {n: np.array([_rho(hidden[:, -1, k], w.hidden[n][:, -1])
                             for k in range(model.hidden_size)]) for n in names}
    out = HiddenStateAnalysis(split, hidden, {n: w.hidden[n] for n in names}, w.sequence,
                              w.last_step, spearman)

    rules = symbolic if isinstance(symbolic, SeqKANRules) else None
    if refined is True and rules is None and symbolic is not True:
        raise InputError("refined=True needs the symbolic rules (symbolic=False was given)")
    fit = ds.windows(fit_split, window, stride) if symbolic is True or refined is True else None
    if symbolic is True:
        rules = symbolify_seqkan(model, fit.inputs,
                                 input_names=w.feature_names, output_names=w.label_names,
                                 lib=lib, max_samples=max_samples)
    out.rules = rules
    if refined is True:
        val = (ds.windows("val", window, stride)
               if len(ds.groups.get("splits", {}).get("val", ())) and fit_split != "val"
               else None)
        refined = refine_rules(rules, fit.inputs, fit.labels,
                               None if val is None else val.inputs,
                               None if val is None else val.labels)
    out.refined = refined if isinstance(refined, SeqKANRules) else None
    # logits, not probabilities: float32 probabilities saturate at |logit| > ~17
    p_model = model.decision_function(w.inputs)
    analytic = pendulum.analytic_decisions(ds) if is_pendulum else {}
    scored = [(suffix, r.model.decision_function(w.inputs))
              for suffix, r in (("symbolic", rules), ("refined", out.refined)) if r is not None]
    out.decisions = {"model": p_model, **dict(scored)}
    for j, lab in enumerate(w.label_names):
        y = w.labels[:, j]
        d = {"auc_model": _auc(y, p_model[:, j])}
        ref = analytic[lab][w.sequence, w.last_step] if lab in analytic else None
        if ref is not None and scored:
            d["auc_analytic"] = _auc(y, ref)
        for suffix, p in scored:
            d[f"auc_{suffix}"] = _auc(y, p[:, j])
            if ref is not None:
                rho_key = "rho_analytic" + ("" if suffix == "symbolic" else "_refined")
                d[rho_key] = _rho(p[:, j], ref)
        out.labels[lab] = d
    return out

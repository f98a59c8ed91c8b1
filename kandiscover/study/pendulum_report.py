"""report.md and figures of the pendulum study, from its results.h5 alone."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from .._validation import check_int
from ..data import pendulum
from ..data.dataset import SequenceDataset
from ..data.store import atomic_path
from ..errors import InputError
from .pendulum import METHODS, load_seqkan, window_args, window_scaling
from .results import ResultStore

__all__ = ["write_report", "summary_table", "local_identification_auc"]

_NAMES = {"seqkan": "seqKAN (ours)", "seqkan_wide": "seqKAN/wide (ours)", "rnn": "RNN (tanh)",
          "lstm": "LSTM", "tkan": "TKAN", "seqkan_official": "seqkan 0.8.1 (authors)",
          "operon": "Operon SR, last step"}
_COLS = [(lab, split) for lab in pendulum.LABELS for split in ("test_interp", "test_extrap")]
_BASELINES = ("rnn", "lstm", "tkan", "seqkan_official", "operon")


def summary_table(store: ResultStore, metric: str = "roc_auc"
                  ) -> dict[str, dict[tuple[str, str], tuple[float, float, int]]]:
    """method -> (label, split) -> (mean, std, number of seeds) over the ok runs."""
    vals: dict[str, dict[tuple[str, str], list[float]]] = {}
    for run in store.runs():
        if run["status"] != "ok":
            continue
        d = vals.setdefault(run["method"], {})
        for lab, split in _COLS:
            d.setdefault((lab, split), []).append(run["metrics"][split][lab][metric])
    return {m: {c: (float(np.mean(v)), float(np.std(v)), len(v)) for c, v in d.items()}
            for m, d in vals.items()}


def _windows(store: ResultStore) -> tuple[int, int]:
    """(length, stride) of the study's windows."""
    return window_args(store.definition["config"])


def local_identification_auc(ds: SequenceDataset, split: str, steps: int = 10,
                             window: tuple[int, int] = (pendulum.WINDOW, pendulum.STRIDE)
                             ) -> dict[str, float]:
    """Information check, not a learned model: per window (length, stride),
    least squares of ``omega' = -a sin(theta) - b omega`` over its last
    ``steps`` steps (central differences); ``b = 2 L'/L``, so ``-b`` scores
    energy_increasing."""
    w = ds.windows(split, *window)
    th, om = w.inputs[..., 0], w.inputs[..., 1]
    dt = 1.0 / float(ds.attrs["sample_rate_hz"])
    d_om = (om[:, 2:] - om[:, :-2]) / (2 * dt)
    A = np.stack([-np.sin(th[:, 1:-1]), -om[:, 1:-1]], -1)[:, -steps:]
    b = d_om[:, -steps:]
    AtA = np.einsum("nki,nkj->nij", A, A)
    Atb = np.einsum("nki,nk->ni", A, b)
    coef = np.linalg.solve(AtA + 1e-12 * np.eye(2), Atb[..., None])[..., 0]
    return {"energy_increasing": float(roc_auc_score(w.labels[:, 0], -coef[:, 1]))}


_SCALING_TEXT = {
    "rms": "per window, theta and omega divided by their root mean square over the window "
           "(theta_rms, omega_rms), and log theta_rms, log omega_rms as two constant extra "
           "inputs.",
    "oscillator": "per window, theta and omega divided by the swing amplitude theta_amp, "
                  "omega also by the angular frequency theta_w0 "
                  "(`kandiscover.kan.seqkan.oscillator_stats`: the linear oscillator "
                  "omega' = -w0^2 theta fitted to the window, "
                  "theta_amp^2 = mean(theta^2 + omega^2 / w0^2)), and log theta_amp as a "
                  "constant extra input. The sum of the two scaled squares is the swing's "
                  "energy over its window mean at any phase.",
}


def _fmt(v: tuple[float, float, int] | None) -> str:
    if v is None or not np.isfinite(v[0]):
        return "–"
    return f"{v[0]:.3f} ± {v[1]:.3f}" if v[2] > 1 else f"{v[0]:.3f}"


def _table(tab: dict, methods: list[str]) -> list[str]:
    head = "| method | " + " | ".join(f"{lab} {split.replace('test_', '')}"
                                      for lab, split in _COLS) + " | seeds |"
    lines = [head, "|" + "---|" * (len(_COLS) + 2)]
    for m in methods:
        if m in tab:
            n = max(v[2] for v in tab[m].values())
            lines.append(f"| {_NAMES.get(m, m)} | "
                         + " | ".join(_fmt(tab[m].get(c)) for c in _COLS) + f" | {n} |")
    return lines


def _save(fig, path: Path) -> None:
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix[1:])


def _roc_figure(store: ResultStore, cut: Callable[[str], Any], out: Path) -> str:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 8), layout="constrained")
    axes = fig.subplots(2, 2)
    labels = {s: cut(s).labels for s in ("test_interp", "test_extrap")}
    runs = [r for r in store.runs() if r["status"] == "ok" and r["seed"] == 0]
    for (lab, split), ax in zip(_COLS, axes.ravel()):
        j = pendulum.LABELS.index(lab)
        y = labels[split][:, j].astype(bool)
        for r in runs:
            p = r["arrays"][f"proba.{split}"][:, j]
            fpr, tpr, _ = roc_curve(y, p)
            ax.plot(fpr, tpr, lw=1.4, label=f"{_NAMES.get(r['method'], r['method'])} "
                    f"({r['metrics'][split][lab]['roc_auc']:.3f})")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set_title(f"{lab}, {split}")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("ROC curves (seed 0; AUC in brackets)")
    _save(fig, out / "roc_curves.png")
    return "roc_curves.png"


def _best_unit(an: dict, split: str = "test_extrap") -> tuple[int, str, float]:
    """(unit, variable, rho) of the largest |rho| with L or L_dot."""
    best = (0, "L", 0.0)
    for var in ("L", "L_dot"):
        for k, r in enumerate(an[split]["spearman"].get(var, [])):
            if np.isfinite(r) and abs(r) > abs(best[2]):
                best = (k, var, float(r))
    return best


def _hidden_figure(an: dict, ds: SequenceDataset, out: Path, name: str) -> str:
    from matplotlib.figure import Figure
    split = "test_extrap"
    unit, var, rho = _best_unit(an, split)
    h = an["arrays"][f"hidden_last.{split}"][:, int(unit)]
    seq, last = an["arrays"][f"sequence.{split}"], an["arrays"][f"last_step.{split}"]
    rate = float(ds.attrs["sample_rate_hz"])
    fig = Figure(figsize=(11, 6), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    for ax, s in zip(axes.ravel(), np.unique(seq)[:4]):
        sel = seq == s
        t = last[sel] / rate
        ax.plot(t, h[sel], color="C0", label=f"h{int(unit) + 1} (window end)")
        ax.set_ylabel(f"h{int(unit) + 1}", color="C0")
        tw = ax.twinx()
        tw.plot(t, ds[f"hidden/{var}"][s, last[sel]], color="C3", label=var)
        tw.set_ylabel(var, color="C3")
        ax.set_title(f"sequence {int(s)}", fontsize=9)
        ax.set_xlabel("t (s)")
    fig.suptitle(f"{name}: hidden unit h{int(unit) + 1} against {var} on extrapolation "
                 f"sequences (Spearman rho {rho:+.3f} over the split)")
    path = f"hidden_vs_{var}_{name}.png"
    _save(fig, out / path)
    return path


def _map_figures(store: ResultStore, cut: Callable[[str], Any], key: str, out: Path
                 ) -> list[str]:
    from ..plot import plot
    from ..symbolic.export import to_latex
    from ..symbolic.seqrules import feature_exprs
    model = load_seqkan(store.get(key))
    xh, xo = model.traced_inputs(cut("train").inputs, max_samples=3000)
    H = model.hidden_size
    hp = [f"$h_{{{k + 1}}}(t-1)$" for k in range(H)]
    hn = [f"$h_{{{k + 1}}}(t)$" for k in range(H)]
    x_now, x_prev = ([f"${to_latex(e, inline_fractions=True)}$"
                      for e in feature_exprs(model, ["theta", "omega"], s)]
                     for s in ("_t", "_prev"))
    files = []
    for attr, X, ins, outs in (
            ("phi_h", xh, [*x_now, *hp], hn),
            ("phi_o", xo, (hn if model.variant == "wide" else [*x_prev, *hn]),
             [f"logit {lab}" for lab in pendulum.LABELS])):
        path = f"{attr}_{key}.png"
        plot(getattr(model, attr), out / path, X=X, in_vars=ins, out_vars=outs,
             title=f"{key}: {attr} (normalised inputs)")
        files.append(path)
    return files


def _difference_text(runs: list[dict], w: Any, ours: str, base: str, label: str) -> str:
    """The paired difference of ``ours`` and ``base`` in extrapolation ROC-AUC
    (mean over their common seeds), with its 95 % interval from resampling the
    test sequences (:func:`kandiscover.compare.significance.auc_difference`);
    ``w``: the extrapolation windows."""
    from ..compare.significance import auc_difference
    j = list(w.label_names).index(label)
    probs = {m: {r["seed"]: r["arrays"]["proba.test_extrap"][:, j] for r in runs
                 if r["method"] == m and r["status"] == "ok"
                 and np.isfinite(r["arrays"]["proba.test_extrap"][:, j]).all()}
             for m in (ours, base)}
    seeds = sorted(set(probs[ours]) & set(probs[base]))
    if not seeds:
        return ""
    try:
        d = auc_difference(w.labels[:, j], [probs[ours][s] for s in seeds],
                           [probs[base][s] for s in seeds], w.sequence)
    except InputError as exc:        # e.g. too few test sequences for an interval
        return f" (no interval for the difference: {exc})"
    # d.a, d.b: from the stored float32 probabilities, which can tie where they
    # saturate, so they may differ from the table's in the last digits
    undefined = f", {d.n_undefined} resamples without both classes left out" \
        if d.n_undefined else ""
    return (f" (difference {d.difference:+.5f} = {d.a:.5f} - {d.b:.5f}, 95 % interval "
            f"[{d.low:+.5f}, {d.high:+.5f}] over {d.n_groups} resampled test sequences"
            f"{undefined}, seeds {seeds}: "
            + ("a real gap" if d.significant else "not a significant gap") + ")")


def auc_by_length(store: ResultStore, ds: SequenceDataset, split: str = "test_extrap",
                  bins: int = 3, *, windows: Any = None
                  ) -> tuple[np.ndarray, dict[str, dict[str, list]]]:
    """ROC-AUC of every method on ``split`` within ``bins`` ranges of the
    initial string length L0 (quantiles over the split's windows, so the bins
    hold equal numbers of windows): where in the range a method gains or loses.

    Returns ``(edges, table)``: the ``bins + 1`` bin edges in metres, and
    method -> label -> per bin ``(mean, std, number of seeds)`` of the ok runs'
    per-seed AUCs (NaN where a bin holds one class only).  ``windows``: the
    split's windows at the study's length and stride, when already cut.
    """
    bins = check_int(bins, "bins", 1)
    w = ds.windows(split, *_windows(store)) if windows is None else windows
    L0 = np.asarray(ds.groups["params"]["L0"])[w.sequence]
    edges = np.quantile(L0, np.linspace(0.0, 1.0, bins + 1))
    which = np.clip(np.searchsorted(edges, L0, side="right") - 1, 0, bins - 1)
    table: dict[str, dict[str, list]] = {}
    for run in store.runs():
        if run["status"] != "ok":
            continue
        P = run["arrays"][f"proba.{split}"]
        for j, lab in enumerate(w.label_names):
            per = table.setdefault(run["method"], {}).setdefault(lab, [[] for _ in range(bins)])
            for b in range(bins):
                y, p = w.labels[which == b, j].astype(bool), P[which == b, j]
                ok = y.any() and not y.all() and np.isfinite(p).all()
                per[b].append(float(roc_auc_score(y, p)) if ok else float("nan"))
    out = {m: {lab: [(float(np.mean(v)), float(np.std(v)), len(v)) for v in per]
               for lab, per in d.items()} for m, d in table.items()}
    return edges, out


def _by_length_lines(store: ResultStore, ds: SequenceDataset, cut: Callable[[str], Any],
                     methods: list[str]) -> list[str]:
    edges, tab = auc_by_length(store, ds, windows=cut("test_extrap"))
    ranges = [f"{lo:.2f}-{hi:.2f} m" for lo, hi in zip(edges[:-1], edges[1:])]
    L = ["## Extrapolation by string length", "",
         "ROC-AUC (mean over seeds, five decimals) on the extrapolation split, its "
         "windows cut into thirds by the sequence's initial string length L0 "
         f"(the training sequences start at {pendulum.INTERP_L0[0]:g}-"
         f"{pendulum.INTERP_L0[1]:g} m):", ""]
    for lab in pendulum.LABELS:
        L += [f"| {lab} | " + " | ".join(ranges) + " |", "|" + "---|" * (len(ranges) + 1)]
        for m in methods:
            if lab in tab.get(m, {}):
                L.append(f"| {_NAMES.get(m, m)} | " + " | ".join(
                    "–" if not np.isfinite(v[0]) else f"{v[0]:.5f}" for v in tab[m][lab])
                    + " |")
        L.append("")
    return L


def _rule_lines(rules: dict) -> list[str]:
    """The update and output rules of a stored analysis entry as display LaTeX."""
    return [f"$$ {t} $$" for t in rules["update_latex"] + rules["output_latex"]] + [""]


def _refined_lines(ref: dict | None) -> list[str]:
    """The report's lines on how the refined rules were chosen, and the rules
    themselves unless the copy was kept (``ref``: the analysis' "refined" entry)."""
    if ref is None:
        return []
    # files written before kept_copy: a kept copy had best_epoch -1
    kept = ref.get("kept_copy", ref.get("best_epoch", 0) < 0)
    if kept:
        return [f"Refined: none of {ref['epochs_run']} epochs lowered the copy's validation "
                "loss, so the copy is kept.", ""]
    if ref.get("best_epoch", 0) < 0:
        head = (f"Refined ({ref['epochs_run']} epochs, no validation split: the last "
                "epoch's constants):")
    else:
        head = (f"Refined ({ref['epochs_run']} epochs, validation BCE "
                f"{ref['best_val_loss']:.4f} at the kept epoch):")
    return [head, ""] + _rule_lines(ref)


def _setting(key: str, value: Any) -> str:
    if key == "grid_refine" and value:
        pairs = sorted((int(e), g) for e, g in (value.items() if isinstance(value, dict)
                                                  else value))
        steps = ", then ".join(f"{g} from epoch {e}" for e, g in pairs)
        return f"grid extended to {steps}"
    return f"{key} {value}"


def write_report(store: ResultStore, ds: SequenceDataset, out: str | os.PathLike) -> Path:
    """Write report.md and the figures into ``out``; return report.md's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = sorted(store.runs(), key=lambda r: (r.get("seed", 0), METHODS.index(r["method"])
                                               if r["method"] in METHODS else len(METHODS)))
    methods = [m for m in ("seqkan", "seqkan_wide", *_BASELINES)
               if any(r["method"] == m for r in runs)]
    roc, pr = summary_table(store, "roc_auc"), summary_table(store, "pr_auc")
    L: list[str] = ["# Hidden-variable pendulum study", ""]
    splits = {k: len(v) for k, v in ds.groups["splits"].items()}
    length, stride = _windows(store)
    cut = functools.cache(lambda split: ds.windows(split, length, stride))  # each split once
    L += [f"Dataset: variable-length pendulum, seed {ds.attrs.get('seed')}, generator "
          f"version {ds.attrs.get('generator_version')}, {ds.n_sequences} sequences of "
          f"{ds.attrs.get('duration_s')} s at {ds.attrs.get('sample_rate_hz')} Hz "
          f"(splits {splits}), theta_star = {float(ds.attrs['theta_star']):.4f} rad. "
          f"Windows of {length} steps, stride {stride}; labels at "
          "each window's last step.", ""]
    cfg = store.definition["config"]
    scale = window_scaling(cfg)
    if scale:
        L += ["Inputs, the same for every method: " + _SCALING_TEXT[scale] + " The seqKANs "
              f"compute these inside the model (`SeqKAN(window_scale={scale!r})`), so their "
              "rules below are in theta, omega and the window statistics.", ""]
    L += ["Training budget (all neural models but seqkan 0.8.1, see below): " + ", ".join(
        f"{k} {v}" for k, v in cfg["train"].items())
          + "; early stopping on the validation split with the best weights restored.", ""]
    own = [m for m in methods if m not in ("seqkan_official", "operon") and cfg.get(m)]
    if own:
        L += ["Per method: " + "; ".join(
            f"{_NAMES.get(m, m)} " + ", ".join(_setting(k, v) for k, v in cfg[m].items())
            for m in own) + ".", ""]
    off = cfg.get("seqkan_official", {})
    if any(r["method"] == "seqkan_official" for r in runs):
        L += [f"seqkan 0.8.1 (the authors' package) runs pykan step by step and is about 10x "
              f"slower per batch than ours (benchmarks/seqkan_speed.py), so within the "
              f"study's hour it gets {off.get('max_windows')} of the training windows "
              f"(drawn with the seed) and at most {off.get('epochs')} epochs, batch 64, "
              f"hidden size {off.get('hidden_size')}, grid {off.get('grid')}.", ""]
    if any(r["method"] == "operon" for r in runs):
        op = cfg.get("operon", {})
        L += [f"Operon: one formula per label on the last step's inputs and the "
              f"previous step's, {op.get('max_samples')} training rows, "
              f"{op.get('time_budget')} s per label, target {op.get('target')}.", ""]

    L += ["## ROC-AUC (mean ± std over seeds)", ""] + _table(roc, methods) + [""]
    L += ["## PR-AUC (mean ± std over seeds)", ""] + _table(pr, methods) + [""]

    # acceptance, computed
    L += ["## Targets", ""]
    for ours in (m for m in ("seqkan", "seqkan_wide") if m in roc):
        for lab, target in (("energy_increasing", 0.96), ("near_equilibrium", 0.90)):
            v = roc[ours].get((lab, "test_extrap"))
            best_base = max(((roc[b][(lab, "test_extrap")][0], b) for b in _BASELINES
                             if b in roc and np.isfinite(roc[b][(lab, "test_extrap")][0])),
                            default=(float("nan"), "none"))
            name = _NAMES.get(ours, ours)
            # five decimals: near 1 the tables' three do not separate the methods
            L.append(f"- {name} extrapolation ROC-AUC for {lab}: "
                     + ("–" if v is None else f"{v[0]:.5f} ± {v[1]:.5f}")
                     + f" (target ≥ {target}: {'met' if v and v[0] >= target else 'NOT met'}); "
                     f"best baseline {_NAMES.get(best_base[1], best_base[1])} "
                     f"{best_base[0]:.5f}: {name} "
                     f"{'higher' if v and v[0] > best_base[0] else 'NOT higher'}"
                     + _difference_text(runs, cut("test_extrap"), ours, best_base[1], lab)
                     + ".")
    L.append("- The intervals come from resampling whole test sequences (their windows "
             "overlap) with both methods scored on the same resample; they cover the "
             "test sample, not the spread over training seeds (the ± above).")
    info = local_identification_auc(ds, "test_extrap", window=(length, stride))
    auc = info["energy_increasing"]
    L += [f"- Information check (no learning): a least-squares fit of "
          f"omega' = -a sin(theta) - b omega over each window's last 10 steps gives "
          f"b = 2 L'/L, and -b scores energy_increasing with extrapolation ROC-AUC "
          f"{auc:.3f}" + (": the label is decidable from the window." if auc >= 0.9 else "."),
          ""]

    if any(r["status"] == "ok" for r in runs):
        L += _by_length_lines(store, ds, cut, methods)
    L += ["## Runs", "", "| run | status | train s | epochs | note |", "|---|---|---|---|---|"]
    for r in runs:
        L.append(f"| {r['key']} | {r['status']} | {r.get('train_seconds', 0.0):.1f} | "
                 f"{r.get('epochs_run', '')} | {r.get('error', '')} |")
    total = sum(float(r.get("seconds", 0.0)) for r in runs)
    workers = max((int(r.get("workers", 1)) for r in runs), default=1)
    L += ["", f"Run time summed over the runs: {total / 60:.1f} min (training and scoring; "
          + (f"trained {workers} at a time in parallel processes, so the wall-clock time "
             "is shorter; " if workers > 1 else "")
          + "the hidden-state analysis and this report come on top)."]
    L.append("")
    if any(r["status"] == "ok" for r in runs):
        L += [f"![ROC curves]({_roc_figure(store, cut, out)})", ""]

    # hidden-state analysis
    analyses, failed_an = [], []
    if store.path.exists():
        import h5py
        with h5py.File(store.path, "r") as f:
            names = list(f["extra"]) if "extra" in f else []
        analyses = [(n, store.get(n, group="extra")) for n in names if n.startswith("analysis-")]
        failed_an = [a for _, a in analyses if a.get("status") == "failed"]
        analyses = [(n, a) for n, a in analyses if a.get("status") != "failed"]
    if analyses:
        L += ["## What the hidden state learned", ""]
        L += ["Spearman rho of each hidden unit (at the window's last step) with the hidden "
              "string length L and its rate L_dot, extrapolation split:", "",
              "| run | unit | rho(L) | rho(L_dot) |", "|---|---|---|---|"]
        best = None
        for name, an in analyses:
            sp = an["test_extrap"]["spearman"]
            for k in range(len(sp["L"])):
                L.append(f"| {an['run']} | h{k + 1} | {sp['L'][k]:+.3f} | {sp['L_dot'][k]:+.3f} |")
            u = _best_unit(an)
            if best is None or abs(u[2]) > abs(best[1][2]):
                best = (an, u)
        an, u = best
        L += ["", f"Strongest: **{an['run']}, unit h{int(u[0]) + 1} with {u[1]}: rho = "
              f"{u[2]:+.3f}** (target |rho| ≥ 0.9: {'met' if abs(u[2]) >= 0.9 else 'NOT met'}).",
              ""]
        L += [f"![hidden state against {u[1]}]({_hidden_figure(an, ds, out, an['run'])})", ""]
        L += ["## Extracted rules", "",
              "Every edge of Phi_h and Phi_o replaced by its best library function "
              "(each edge fitted on its own to its trained curve), inputs in raw units "
              "(theta, omega in rad and rad/s; the `_prev` variables are the previous step; "
              "`_rms`, `_amp` and `_w0` ones the window statistics of the scaled inputs, see "
              "Inputs above). "
              "The symbolic model is then run as a seqKAN and scored (the *copy*). The "
              "edge fits' small errors add up over the steps of a window, so the copy is "
              "then trained as a whole on the training labels, through the recurrence: the "
              "edges keep their functions, their constants move "
              "(`kandiscover.symbolic.seqrules.refine_rules`; the *refined* rules).", ""]
        for name, an in analyses:
            L += [f"### {an['run']}", ""]
            if "seconds" in an:
                L += [f"Analysis time (rules, refinement, scoring): {an['seconds']:.0f} s", ""]
            rules, ref = an["rules"], an.get("refined")
            L += [f"Copy: r^2 of the symbolic maps against the trained ones: Phi_h "
                  f"{rules['r2']['phi_h']:.4f}, Phi_o {rules['r2']['phi_o']:.4f}", ""]
            L += _rule_lines(rules)
            L += _refined_lines(ref)
            if "refined_error" in an:
                L += [f"Refining failed: {an['refined_error']}", ""]
            L += ["| label | split | AUC trained | AUC copy | AUC refined | "
                  "rho(copy, analytic) | rho(refined, analytic) |",
                  "|---|---|---|---|---|---|---|"]
            nan = float("nan")
            for split in ("test_interp", "test_extrap"):
                for lab, d in an[split]["labels"].items():
                    L.append(f"| {lab} | {split} | {d['auc_model']:.3f} | "
                             f"{d.get('auc_symbolic', nan):.3f} | "
                             f"{d.get('auc_refined', nan):.3f} | "
                             f"{d.get('rho_analytic', nan):+.3f} | "
                             f"{d.get('rho_analytic_refined', nan):+.3f} |")
            L.append("")
        L += ["The analytic rules the labels were made from: energy_increasing is "
              "$\\dot E > 0$ with $\\dot E = -\\dot L\\,(g\\cos\\theta + L\\omega^2 - \\ddot L)$; "
              "near_equilibrium is $(1-\\cos\\theta) + L\\omega^2/(2g) < 1-\\cos\\theta^*$. "
              "The rho columns are the Spearman correlation of the symbolic model's logit "
              "with the analytic decision value (right side minus left side).", ""]
        an0 = next((a for n, a in analyses if a["run"] == "seqkan-seed0"), analyses[0][1])
        try:
            files = _map_figures(store, cut, an0["run"], out)
            L += [f"![{f}]({f})" for f in files] + [""]
        except Exception as exc:  # a figure must not lose the report
            L += [f"(edge-function figures failed: {exc})", ""]

    ops = [r for r in runs if r["method"] == "operon" and r["status"] == "ok"]
    if ops:
        L += ["## Symbolic regression on the last step (Operon)", ""]
        for r in ops:
            L += [f"{r['key']}:", ""] + [f"$$ {t} $$" for t in r["latex"]] + [""]
    bad = [r for r in runs if r["status"] != "ok"]
    bad += [{"key": f"analysis of {a['run']}", "status": "failed", "error": a["error"]}
            for a in failed_an]
    if bad:
        L += ["## Runs that did not complete", ""]
        L += [f"- {r['key']}: {r['status']}: {r['error']}" for r in bad] + [""]
    path = out / "report.md"
    with atomic_path(path, suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(L) + "\n", encoding="utf-8")
    return path

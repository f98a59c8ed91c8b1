"""Symbolic rules of a seqKAN: the update h_t = F(x_t, h_{t-1}) and the
output y_t = G(x_{t-1}, h_t) as sympy expressions in the raw input units.

A :class:`~kandiscover.SeqKAN` reads normalised inputs ``z = (x - mean) / std``
and squashes its hidden state, so with the symbolic maps Phi_h and Phi_o::

    h_t = s(Phi_h(z_t, h_{t-1}))        s = tanh (or the identity)
    y_t = Phi_o(z_{t-1}, h_t)           (Phi_o(h_t) for the wide variant)

:func:`symbolify_seqkan` fixes every edge of both maps to its best library
function (each map fine-tuned against its own trained outputs on traced
inputs), substitutes ``z`` back to ``x`` (for a model with ``window_scale``,
to the scaled features of :func:`feature_exprs`, such as ``x / x_rms`` and
``log(x_rms)``, ``x_rms`` being the root mean square of ``x`` over the
window) and returns the rules with a copy of the model whose maps are the
symbolic ones, so the rules can be scored by running that copy.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy
import torch

from .._validation import check_int
from ..errors import InputError
from .auto import auto_symbolic
from .export import round_floats, to_latex
from .expression import to_sympy

__all__ = ["SeqKANRules", "symbolify_seqkan", "refine_rules", "feature_exprs"]


@dataclass
class SeqKANRules:
    """The symbolic form of a seqKAN.

    ``update[k]`` is h_k(t) as a sympy expression of the inputs at t and the
    previous hidden state (symbols ``h1_prev``, ...); ``output[j]`` is the
    logit of label j from the previous inputs (``<name>_prev``) and the new
    hidden state (``h1``, ...); with ``window_scale`` both also read window
    statistics (``<name>_rms``, or ``<name>_amp`` and ``<name>_w0``; see
    :func:`feature_exprs`).  ``model``
    is the seqKAN copy whose maps are the symbolic ones; ``r2`` maps
    ``"phi_h"``/``"phi_o"`` to the r^2 of each symbolic map against the
    trained one on the traced inputs.  ``history`` is the
    :class:`~kandiscover.kan.train.History` of :func:`refine_rules` (None for
    rules it did not refine); ``kept_copy`` is True when :func:`refine_rules`
    rejected its training (no lower validation loss) and returned the copy.
    """

    update: list[sympy.Expr]
    output: list[sympy.Expr]
    input_names: list[str]
    output_names: list[str]
    model: Any
    r2: dict[str, float]
    history: Any = None
    kept_copy: bool = False

    def update_latex(self) -> list[str]:
        return [f"h_{{{k + 1}}}(t) = " + to_latex(e) for k, e in enumerate(self.update)]

    def output_latex(self) -> list[str]:
        return [f"\\mathrm{{logit}}\\,p(\\mathrm{{{_tex_name(n)}}}) = " + to_latex(e)
                for n, e in zip(self.output_names, self.output)]


def _tex_name(name: str) -> str:
    return name.replace("_", "\\_")


def _r2(a: np.ndarray, b: np.ndarray) -> float:
    ss = float(((a - a.mean(0)) ** 2).sum())
    return 1.0 - float(((a - b) ** 2).sum()) / ss if ss > 0 else float("nan")


def _rounded(expr: sympy.Expr, digits: int) -> sympy.Expr:
    expr = sympy.expand(expr, deep=False)  # folds (x - m) / s into a*x + b
    return round_floats(expr, digits)


#: the names of the window statistics the rules read, per scaling (a suffix to an input's name)
_STAT_SUFFIXES = {"rms": ("_rms",), "oscillator": ("_amp", "_w0")}


def feature_exprs(model, names: Sequence[str], suffix: str = "") -> list[sympy.Expr]:
    """The maps' input features (:meth:`SeqKAN.features`, before standardisation)
    as sympy expressions of the inputs ``<name><suffix>``: the inputs themselves;
    with ``window_scale="rms"``, ``x / x_rms`` then ``log(x_rms)`` (``x_rms``: the
    input's root mean square over the window); with ``"oscillator"``, for each
    (position q, velocity v) pair ``q / q_amp``, ``v / (q_w0 q_amp)``, then
    ``log(q_amp)`` (the swing amplitude and angular frequency over the window,
    :func:`~kandiscover.kan.seqkan.oscillator_stats`)."""
    xs = sympy.symbols([f"{n}{suffix}" for n in names])
    if not model.window_scale:
        return list(xs)
    stat = {x: sympy.symbols([f"{n}{x}" for n in names])
            for x in _STAT_SUFFIXES[model.window_scale]}
    if model.window_scale == "rms":
        rms = stat["_rms"]
        return [x / r for x, r in zip(xs, rms)] + [sympy.log(r) for r in rms]
    amps, w0s = stat["_amp"][0::2], stat["_w0"][0::2]      # named after each pair's position
    pairs = [e for q, v, a, w in zip(xs[0::2], xs[1::2], amps, w0s) for e in (q / a, v / (w * a))]
    return pairs + [sympy.log(a) for a in amps]


def _map_expr(kan, names: Sequence[str], X: np.ndarray) -> list[sympy.Expr]:
    expr = to_sympy(kan, list(names), X_check=X, simplify=False)
    return list(expr) if isinstance(expr, list) else [expr]


def symbolify_seqkan(model, X: Any, *, input_names: Sequence[str] | None = None,
                     output_names: Sequence[str] | None = None,
                     lib: Sequence[str] | None = None, max_samples: int = 3000,
                     fine_tune_steps: int = 0, digits: int = 4) -> SeqKANRules:
    """Symbolic update and output rules of a trained seqKAN (not modified).

    Parameters
    ----------
    model : a trained :class:`~kandiscover.SeqKAN`
    X : sequences (n, time, input_size) whose traced map inputs are used for
        the edge fits (usually the training windows)
    input_names, output_names : names of the input features and labels
        (default ``x1, x2, ...`` and ``y1, y2, ...``); they must be valid
        identifiers
    lib : candidate library functions (default: the whole library)
    max_samples : traced rows used per map (an evenly spread subsample)
    fine_tune_steps : least-squares polish of each symbolic map against
        the trained one (see :func:`~kandiscover.auto_symbolic`); 0 keeps the
        independent edge fits, which is ~100x faster on these maps
    digits : significant digits of the constants in the returned rules
    """
    from ..kan.seqkan import SeqKAN

    if not isinstance(model, SeqKAN):
        raise InputError(f"symbolify_seqkan expects a SeqKAN, got {type(model).__name__}")
    max_samples = check_int(max_samples, "max_samples", 16)
    F, H, O = model.input_size, model.hidden_size, model.output_size
    names_in = list(input_names) if input_names is not None else [f"x{i + 1}" for i in range(F)]
    names_out = (list(output_names) if output_names is not None
                 else [f"y{j + 1}" for j in range(O)])
    if len(names_in) != F or not all(n.isidentifier() for n in names_in):
        raise InputError(f"input_names must be {F} identifiers, got {names_in}")
    stats = _STAT_SUFFIXES.get(model.window_scale, ())
    own = r"(h\d+|z\d+)(_prev)?|.*_prev" + "".join(f"|.*{x}" for x in stats)
    clash = [n for n in names_in if re.fullmatch(own, n)]
    if clash or len(set(names_in)) != F:
        raise InputError(f"input_names {clash or names_in} clash with the rules' own names "
                         "(h1, h1_prev, ..., <name>_prev"
                         + "".join(f", <name>{x}" for x in stats) + ") or with each other")
    if len(names_out) != O:
        raise InputError(f"output_names must have {O} names, got {names_out}")
    xh, xo = model.traced_inputs(X, max_samples=max_samples)
    sym = copy.deepcopy(model)
    r2: dict[str, float] = {}
    for attr, xin in (("phi_h", xh), ("phi_o", xo)):
        kan = getattr(model, attr)
        with torch.no_grad():
            target = kan(kan.as_tensor(xin)).cpu().numpy()
        new, _ = auto_symbolic(kan, xin, target, lib=lib, r2_threshold=0.0,
                               fine_tune_steps=fine_tune_steps)
        with torch.no_grad():
            r2[attr] = _r2(target, new(new.as_tensor(xin)).cpu().numpy())
        setattr(sym, attr, new)
    update, output = _read_rules(sym, names_in, xh, xo, digits)
    return SeqKANRules(update, output, names_in, names_out, sym, r2)


def _read_rules(sym, names_in: list[str], xh: np.ndarray, xo: np.ndarray, digits: int
                ) -> tuple[list[sympy.Expr], list[sympy.Expr]]:
    """The update and output rules of a seqKAN with symbolic maps, in raw
    units (``xh``, ``xo``: traced inputs of its maps, to check the reading)."""
    H = sym.hidden_size
    # names of the maps' inputs in normalised units, then back to raw units
    mean, std = sym.normalization()
    x_now, x_prev = feature_exprs(sym, names_in), feature_exprs(sym, names_in, "_prev")
    h_prev = sympy.symbols([f"h{k + 1}_prev" for k in range(H)])
    h_now = sympy.symbols([f"h{k + 1}" for k in range(H)])
    zn = [f"z{i + 1}" for i in range(sym.n_features)]
    z_syms = sympy.symbols(zn)

    def raw(exprs: list[sympy.Expr], xs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
        sub = {z: (x - float(m)) / float(s) for z, x, m, s in zip(z_syms, xs, mean, std)}
        return [_rounded(e.xreplace(sub), digits) for e in exprs]  # simultaneous

    h_names = zn + [str(s) for s in h_prev]
    upd = raw(_map_expr(sym.phi_h, h_names, xh), x_now)
    if sym.squash == "tanh":
        upd = [sympy.tanh(e) for e in upd]
    if sym.variant == "wide":
        out = [_rounded(e, digits) for e in _map_expr(sym.phi_o, [str(s) for s in h_now], xo)]
    else:
        out = raw(_map_expr(sym.phi_o, zn + [str(s) for s in h_now], xo), x_prev)
    return upd, out


def _bce(model, X: np.ndarray, Y: np.ndarray) -> float:
    """Mean binary cross-entropy of a seqKAN's last-step logits (float64)."""
    z = torch.as_tensor(model.decision_function(X), dtype=torch.float64)
    return float(torch.nn.functional.binary_cross_entropy_with_logits(
        z, torch.as_tensor(Y, dtype=torch.float64)))


def refine_rules(rules: SeqKANRules, X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *,
                 epochs: int = 20, lr: float = 1e-3, batch_size: int = 256, patience: int = 5,
                 max_windows: int | None = 16000, max_samples: int = 3000,
                 digits: int = 4) -> SeqKANRules:
    """Fit the constants of symbolic rules through the recurrence.

    :func:`symbolify_seqkan` fits every edge on its own, against the trained
    edge.  The small differences add up over the steps of a sequence, so the
    symbolic copy can lose part of what the trained model detects.  Here the
    symbolic seqKAN is trained as a whole, with the loss of
    :meth:`SeqKAN.fit` (binary cross-entropy of the last step, early stopping
    on ``X_val``, ``Y_val``, cosine learning-rate schedule, no grid updates).
    The functions of the edges stay the same; their affine constants and the
    node maps are trained.  The rules are then read again.

    Parameters
    ----------
    rules : rules from :func:`symbolify_seqkan` (not modified)
    X, Y : labelled sequences (n, time, input_size), (n, output_size)
    X_val, Y_val : validation sequences and labels (optional, together)
    epochs, lr, batch_size, patience : training settings
    max_windows : train on at most this many sequences of ``X``, evenly
        spread (``None``: all of them).  Overlapping windows repeat each other,
        and a symbolic step costs more than a spline one.
    max_samples : traced rows used to check the reading of each map
    digits : significant digits of the constants in the returned rules

    Returns
    -------
    SeqKANRules whose ``model`` is the refined copy and ``history`` its
    training history; ``r2`` is still that of the edge fits.  With validation
    data the refined constants are kept only if they lower the validation
    loss of the given rules; otherwise the given rules come back (on a copy
    of their model) with ``kept_copy`` True.  Without validation data the last epoch's
    constants are returned.
    """
    from ..kan.seqtrain import sequence_data

    if not isinstance(rules, SeqKANRules):
        raise InputError(f"refine_rules expects SeqKANRules, got {type(rules).__name__}")
    loose = [a for a in ("phi_h", "phi_o") if any(
        layer.has_spline_edges()
        for layer in getattr(rules.model, a).layers)]
    if loose:
        raise InputError(f"refine_rules needs symbolic maps; {', '.join(loose)} still has "
                         "spline edges")
    max_samples = check_int(max_samples, "max_samples", 16)
    m = rules.model
    Xa, Ya, Xva, Yva = sequence_data(X, Y, X_val, Y_val, n_features=m.input_size,
                                     n_labels=m.output_size)
    if max_windows is not None and len(Xa) > check_int(max_windows, "max_windows", 1):
        keep = np.linspace(0, len(Xa) - 1, max_windows).round().astype(np.int64)
        Xa, Ya = Xa[keep], Ya[keep]
    sym = copy.deepcopy(m)
    history = sym.fit(Xa, Ya, Xva, Yva, epochs=epochs, lr=lr, batch_size=batch_size,
                      patience=patience, grid_update_epochs=(), lr_schedule="cosine")
    if Xva is not None and (history.best_step is None
                            or not _bce(sym, Xva, Yva) < _bce(m, Xva, Yva)):
        # no epoch beat the copy on validation: the given rules, on a copy of their model
        return dataclasses.replace(rules, model=copy.deepcopy(m), r2=dict(rules.r2),
                                   history=dataclasses.replace(history, best_step=None),
                                   kept_copy=True)
    xh, xo = sym.traced_inputs(Xa, max_samples=max_samples)
    update, output = _read_rules(sym, rules.input_names, xh, xo, digits)
    return SeqKANRules(update, output, list(rules.input_names), list(rules.output_names), sym,
                       dict(rules.r2), history)

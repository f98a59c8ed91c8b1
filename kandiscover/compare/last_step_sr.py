r"""Symbolic-regression baseline on the last step of each window (Operon).

The seqKAN paper (Boura & Konstantopoulos 2025) compares its recurrent KAN
with symbolic regression that sees only the **last time step** of each
window: for a window :math:`x_0, \dots, x_{T-1}` of the pendulum, the inputs
are :math:`\theta_t, \omega_t, \theta_{t-1}, \omega_{t-1}` (the last two
steps, :math:`t = T-1`), and one formula is fitted per binary label.  The
hidden driver (the string length) is not among the inputs, so this baseline
shows what can be read off the observed state alone.

* :func:`last_step_features` builds that design matrix from windows
  ``(n, time, features)``.
* :class:`OperonLabelClassifier` fits one Operon model
  (:class:`pyoperon.sklearn.SymbolicRegressor`) per label column, turns each
  model into a sympy formula with the project's safe parser
  (:func:`kandiscover.symbolic.parse.parse_formula`), checks that the formula
  reproduces Operon's own predictions on the training rows, and scores new
  windows with the formula.

Scoring
-------
Operon regresses a real target with a least-squares (:math:`R^2`) objective
and linear scaling, so the formula :math:`f` is a regression output, turned
into a score in [0, 1] by the ``target`` option:

* ``target="probability"``: regress the 0/1 label directly (a linear
  probability model); the score is :math:`\mathrm{clip}(f, 0, 1)`.
* ``target="logit"`` (default): regress :math:`\pm a` with
  :math:`a = \mathrm{logit}(0.9) = \ln 9 \approx 2.197` (positives
  :math:`+a`, negatives :math:`-a`); the score is :math:`\sigma(f)`.  The
  logit of a hard 0/1 label is infinite, so the labels are smoothed to
  0.9 / 0.1 (label smoothing by 0.1) before taking the logit.  Operon has no
  Bernoulli likelihood, only least squares, and :math:`R^2` with linear
  scaling does not change when the target is scaled or shifted, so the
  choice of :math:`a` does not reward different shapes; it fixes the
  temperature of the sigmoid: a window scored like a typical positive gets
  0.9, a typical negative 0.1.  Unlike clipping, the sigmoid never flattens
  the tails, so the ranking of the raw formula (and its ROC-AUC) is kept.

Determinism and time
--------------------
Operon stops at whichever comes first of ``time_budget`` (whole seconds, per
label), ``generations`` and its evaluation budget.  With one thread and the
same seed, a run stopped by ``generations`` is repeatable; a run stopped by
the clock is not in general, because how many generations fit into the
budget depends on the machine's load.  Give ``generations`` (and a generous
``time_budget``) where results must repeat exactly.

Number formatting
-----------------
Operon stores constants as float32 and prints them in fixed notation with a
given number of decimals (``(-0.000000)`` for a small negative number at the
default precision).  The model is printed with 60 decimals, every number is
rewritten as the shortest text that reads back to the same float32
(``1e-08``, ``0.1``), and the text is parsed with ``^`` as a power.  Names
are placeholders ``x0, x1, ...`` during parsing, so feature names need not
be valid identifiers and cannot collide with function names.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy
from sklearn.base import BaseEstimator

from .._validation import check_int, check_positive
from ..errors import InputError, InputTypeError, KandiscoverError
from ..kan.seqtrain import _labels, _sequences
from ..symbolic.export import to_latex, to_numpy
from ..symbolic.parse import parse_formula

__all__ = ["last_step_features", "OperonLabelClassifier", "FormulaMismatchError",
           "formula_from_operon_text", "check_reproduces",
           "DEFAULT_SYMBOLS", "LOGIT_TARGET"]

#: Operon's primitives used by default (the set of the project's field notes).
DEFAULT_SYMBOLS = "add,sub,mul,div,constant,variable,exp,log,sin,cos,sqrt,square,tanh"
#: Operon primitives whose printed form :func:`parse_formula` reads back.
#: Not here: cbrt, ceil, floor (no parser function), fmin/fmax (printed as
#: ``max``/``min``, swapped, by pyoperon 0.6.2).
PARSEABLE_SYMBOLS = frozenset({
    "add", "sub", "mul", "div", "constant", "variable", "aq", "pow", "powabs", "abs",
    "acos", "asin", "atan", "cos", "cosh", "exp", "log", "logabs", "log1p", "sin",
    "sinh", "sqrt", "sqrtabs", "tan", "tanh", "square"})
#: The regression target of a positive label with ``target="logit"``:
#: logit(0.9) = ln 9 (negatives get minus this).
LOGIT_TARGET = math.log(9.0)
#: Relative agreement required between the parsed formula and Operon's predict
#: (loosened to ``FLOAT32_FACTOR`` times the formula's own float32 rounding where
#: that is larger: Operon computes in float32; see :func:`check_reproduces`).
CHECK_RTOL = 1e-6
#: Operon's float32 evaluation (its own operation order and vectorized math
#: functions) differs from numpy's float32 evaluation of the same formula by
#: more than numpy's own rounding: on a cancellation-heavy pendulum formula the
#: worst row was 15.6 times numpy's (1.47e-5 against 9.4e-7), so twice that
#: is allowed.  A parsing error changes values by orders of magnitude more.
FLOAT32_FACTOR = 30.0
#: Decimals Operon prints before the numbers are rewritten (float32 reaches 1e-45).
_PRECISION = 60
_TARGETS = ("logit", "probability")
_DEFAULT_INPUT_NAMES = ("theta", "omega")
# A number as Operon prints it: fixed notation, possibly with an exponent.
# Pure integers (the 2 of ``x ^ 2``, the 1 of ``aq``) are left as they are.
_NUMBER_RE = re.compile(r"(?<![\w.])(?:(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)")
_NONFINITE_RE = re.compile(r"(?<![\w.])(?:inf|nan)(?!\w)", re.IGNORECASE)


class FormulaMismatchError(KandiscoverError, RuntimeError):
    """The formula read from Operon's text does not reproduce Operon's own
    predictions (a formatting or parsing problem, not a user mistake)."""


# ---------------------------------------------------------------- features
def _names(names: Any, what: str, count: int) -> list[str]:
    """Check a list of ``count`` distinct non-empty strings."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise InputTypeError(f"{what} must be a list of {count} names, got {names!r}")
    names = list(names)
    for i, n in enumerate(names):
        if not isinstance(n, str):
            raise InputTypeError(f"{what}[{i}] must be a string, got {n!r}")
        if not n.strip():
            raise InputError(f"{what}[{i}] is empty; give every feature a name")
    if len(names) != count:
        raise InputError(f"{what} has {len(names)} names but {count} are needed")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{what} repeats {', '.join(map(repr, repeated))}; "
                         "give each a distinct name")
    return names


def _windows(X: Any, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """Validated windows (n, time >= 2, features) as float64."""
    arr = _sequences(X, name, n_features)
    if arr.shape[1] < 2:
        raise InputError(f"{name} has windows of {arr.shape[1]} time step; the last-step "
                         "features need at least 2 steps (the last one and the one before)")
    return arr


def _feature_names(input_names: Sequence[str] | None, n_inputs: int) -> list[str]:
    if input_names is None:
        input_names = (_DEFAULT_INPUT_NAMES if n_inputs == 2
                       else [f"x{i}" for i in range(n_inputs)])
    base = _names(input_names, "input_names", n_inputs)
    return [f"{b}_t" for b in base] + [f"{b}_prev" for b in base]


def last_step_features(X: Any, input_names: Sequence[str] | None = None
                       ) -> tuple[np.ndarray, list[str]]:
    """The last two steps of each window, side by side.

    Parameters
    ----------
    X : array (n, time, F), time >= 2
        Windows; for the pendulum ``F = 2`` with columns [theta, omega].
    input_names : list of F names, optional
        Names of the per-step inputs; default ``["theta", "omega"]`` when
        ``F = 2``, else ``x0, x1, ...``.

    Returns
    -------
    features : array (n, 2F)
        ``[X[:, -1, :], X[:, -2, :]]``: the last step, then the step before.
    names : list of 2F str
        ``"<name>_t"`` for the last step and ``"<name>_prev"`` for the one
        before: ``["theta_t", "omega_t", "theta_prev", "omega_prev"]``.

    Raises
    ------
    InputError : X is not 3-D, is empty, has NaN/inf values or windows shorter
        than 2 steps, or ``input_names`` does not give F distinct names
    """
    arr = _windows(X)
    names = _feature_names(input_names, arr.shape[2])
    return np.concatenate([arr[:, -1, :], arr[:, -2, :]], axis=1), names


# ---------------------------------------------------------------- parsing Operon's text
def _short_number(match: re.Match) -> str:
    """The shortest text that reads back to the same float32 as ``match``."""
    value = np.float32(float(match.group(0)))
    if not np.isfinite(value):
        raise FormulaMismatchError(f"Operon printed the number {match.group(0)[:40]}, "
                                   "which does not fit a float32")
    return str(value)


def formula_from_operon_text(text: str, placeholders: Sequence[str],
                             names: Sequence[str]) -> sympy.Expr:
    """Parse Operon's infix text (variables named ``placeholders``) into sympy,
    with the variables renamed to ``names``.

    Numbers in fixed or scientific notation become the shortest text of the
    same float32; ``^`` is a power; everything goes through
    :func:`parse_formula`, which evaluates nothing.
    """
    bad = _NONFINITE_RE.search(text)
    if bad:
        raise FormulaMismatchError(
            f"Operon's model contains a non-finite constant ({bad.group(0)!r}): "
            f"{text[:200]}")
    compact = _NUMBER_RE.sub(_short_number, text)
    expr = parse_formula(compact, variables=list(placeholders))
    return expr.xreplace({sympy.Symbol(p): sympy.Symbol(n)
                          for p, n in zip(placeholders, names)})


def _relative_differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b| / max(|b|, rms(b))`` elementwise: relative to each value, or to
    the typical size of ``b`` where a value is near zero."""
    ref = max(float(np.sqrt(np.mean(b * b))), float(np.finfo(np.float32).tiny))
    return np.abs(a - b) / np.maximum(np.abs(b), ref)


def _float32_values(expr: sympy.Expr, names: Sequence[str], X: np.ndarray) -> np.ndarray:
    """``expr`` evaluated by numpy in float32 arithmetic on the columns of X."""
    args = [sympy.Dummy(n) for n in names]
    body = expr.xreplace({sympy.Symbol(n): d for n, d in zip(names, args)})
    fn = sympy.lambdify(args, body, modules="numpy")
    cols = [np.ascontiguousarray(X[:, i], dtype=np.float32) for i in range(X.shape[1])]
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*cols), dtype=np.float64)
    return np.broadcast_to(out, (X.shape[0],))


def check_reproduces(expr: sympy.Expr, names: Sequence[str], X: np.ndarray,
                     operon: np.ndarray, label: int = 0, text: str = "",
                     rtol: float = CHECK_RTOL) -> dict[str, float]:
    r"""Check that ``expr`` (float64) reproduces Operon's ``predict`` on ``X``.

    Operon evaluates in float32 only, so an exact formula still differs from
    its output by float32 rounding, which grows with the formula's condition
    (``cos(15 b / c)`` near ``c = 0`` loses about 1e-3 relative).  The check
    therefore measures the formula's own float32 sensitivity
    :math:`r_{32} = \max_i |f^{32}_i - f_i| / s_i` (the formula evaluated by
    numpy in float32 and in float64) and requires

    .. math:: r = \max_i |f_i - p_i| / s_i \le \max(\mathrm{rtol}, 30\, r_{32}),
              \qquad s_i = \max(|p_i|, \mathrm{rms}(p)),

    where :math:`p` is Operon's prediction; non-finite values must occur on
    the same rows with the same value.  A parsing error (precedence, sign,
    a lost constant, a swapped variable) changes the values far beyond float32
    rounding.

    Returns
    -------
    ``{"rel_diff": r, "float32_rel": r_32, "tolerance": ...}``

    Raises
    ------
    FormulaMismatchError : when the formula does not reproduce Operon's output
    """
    with np.errstate(all="ignore"):
        mine = to_numpy(expr, list(names))(X)
    theirs = np.asarray(operon, dtype=np.float64)
    fa, fb = np.isfinite(mine), np.isfinite(theirs)
    if not (np.array_equal(fa, fb) and np.array_equal(np.isnan(mine), np.isnan(theirs))
            and np.array_equal(mine[np.isinf(mine)], theirs[np.isinf(theirs)])):
        raise FormulaMismatchError(
            f"label {label}: the parsed formula is non-finite on "
            f"{int((~fa).sum())} training rows and Operon's predict on {int((~fb).sum())}, "
            f"not on the same rows; Operon's text: {text[:300]}")
    if not fa.any():
        return {"rel_diff": 0.0, "float32_rel": 0.0, "tolerance": rtol}
    a, b = mine[fa], theirs[fa]
    rel = _relative_differences(a, b)
    f32 = _float32_values(expr, names, X)[fa]
    ok32 = np.isfinite(f32)
    r32 = float(_relative_differences(f32[ok32], a[ok32]).max()) if ok32.any() else 0.0
    tol = max(rtol, FLOAT32_FACTOR * r32)
    worst = float(rel.max())
    if not worst <= tol:
        i = int(np.argmax(rel))
        raise FormulaMismatchError(
            f"label {label}: the formula parsed from Operon's text does not reproduce "
            f"Operon's predict (relative difference {worst:.3g} > {tol:.3g}; formula "
            f"gives {float(a[i])!r}, Operon {float(b[i])!r}); formula: "
            f"{str(expr)[:200]}; Operon's text: {text[:300]}")
    return {"rel_diff": worst, "float32_rel": r32, "tolerance": tol}


# ---------------------------------------------------------------- the classifier
class OperonLabelClassifier(BaseEstimator):
    r"""One Operon formula per binary label, on the last two steps of each window.

    Parameters
    ----------
    time_budget : seconds of Operon search per label (Operon counts whole
        seconds: the budget is rounded down, to at least 1)
    seed : seeds the training subsample and Operon (label ``j`` uses
        ``seed + j``)
    target : ``"logit"`` (regress :math:`\pm\ln 9`, score :math:`\sigma(f)`)
        or ``"probability"`` (regress 0/1, score :math:`\mathrm{clip}(f,0,1)`);
        see the module documentation
    max_length : largest formula, in Operon tree nodes
    n_threads : Operon threads per fit; 1 by default because studies run
        several fits in parallel (and more threads make runs unrepeatable)
    max_samples : training rows used (a subsample without replacement drawn
        with ``numpy.random.default_rng(seed)`` when there are more)
    allowed_symbols : Operon primitives, comma separated; only those whose
        printed form the safe parser reads are accepted
    generations : Operon's generation limit (a run stopped by it rather than
        by the clock repeats exactly with the same seed)
    population_size : Operon population size
    optimizer_iterations : Levenberg-Marquardt steps on each formula's
        constants (0 would leave constants untuned)

    Attributes
    ----------
    formulas_ : list of sympy.Expr, one per label, over the feature names
        (the decision function :math:`f`; scores are :math:`\sigma(f)` or
        :math:`\mathrm{clip}(f, 0, 1)`)
    feature_names_ : the 2F feature names (``theta_t, omega_t, theta_prev,
        omega_prev`` by default)
    n_inputs_ : F, the features per time step
    n_labels_ : number of label columns
    model_texts_ : Operon's printed model per label (numbers shortened)
    operon_models_ : the fitted :class:`pyoperon.sklearn.SymbolicRegressor`\ s
    stats_ : per label, Operon's run statistics plus ``fit_seconds`` and the
        result of :func:`check_reproduces` on the training rows:
        ``check_rel_diff`` (largest relative difference between the formula
        and Operon's float32 predict), ``check_float32_rel`` (the formula's
        own float32 rounding) and ``check_tolerance``
    train_rows_ : indices of the training rows used

    Examples
    --------
    >>> clf = OperonLabelClassifier(time_budget=30).fit(X, Y)   # X (n, T, 2)
    >>> clf.formulas_[0], clf.latex()[0]
    >>> clf.predict_proba(X_test)                               # (n, n_labels)
    """

    def __init__(self, time_budget: float = 30.0, seed: int = 0, target: str = "logit",
                 max_length: int = 30, n_threads: int = 1, max_samples: int = 5000,
                 allowed_symbols: str = DEFAULT_SYMBOLS, generations: int = 1000,
                 population_size: int = 1000, optimizer_iterations: int = 10) -> None:
        self.time_budget = time_budget
        self.seed = seed
        self.target = target
        self.max_length = max_length
        self.n_threads = n_threads
        self.max_samples = max_samples
        self.allowed_symbols = allowed_symbols
        self.generations = generations
        self.population_size = population_size
        self.optimizer_iterations = optimizer_iterations

    # ------------------------------------------------------------ checks
    def _check_params(self) -> dict[str, Any]:
        budget = check_positive(self.time_budget, "time_budget")
        if self.target not in _TARGETS:
            raise InputError(f"target must be 'logit' or 'probability', got {self.target!r}")
        if not isinstance(self.allowed_symbols, str):
            raise InputTypeError("allowed_symbols must be a comma-separated string such as "
                                 f"{DEFAULT_SYMBOLS!r}, got {self.allowed_symbols!r}")
        symbols = [s.strip() for s in self.allowed_symbols.split(",") if s.strip()]
        unknown = [s for s in symbols if s not in PARSEABLE_SYMBOLS]
        if unknown:
            raise InputError(
                f"allowed_symbols has {', '.join(map(repr, unknown))}, which the formula "
                f"parser cannot read back; choose from {', '.join(sorted(PARSEABLE_SYMBOLS))}")
        if "variable" not in symbols:
            raise InputError("allowed_symbols must include 'variable'")
        return {
            "max_time": max(1, int(math.floor(budget))),
            "seed": check_int(self.seed, "seed", 0),
            "max_length": check_int(self.max_length, "max_length", 1),
            "n_threads": check_int(self.n_threads, "n_threads", 1),
            "max_samples": check_int(self.max_samples, "max_samples", 2),
            "generations": check_int(self.generations, "generations", 1),
            "population_size": check_int(self.population_size, "population_size", 2),
            "optimizer_iterations": check_int(self.optimizer_iterations,
                                              "optimizer_iterations", 0),
            "allowed_symbols": ",".join(symbols),
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "formulas_"):
            raise InputError("this OperonLabelClassifier is not fitted yet; call fit(X, Y) "
                             "first")

    # ------------------------------------------------------------ fit
    @staticmethod
    def _fit_names(feature_names: Any, F: int) -> list[str]:
        """The 2F feature names from ``fit``'s ``feature_names``."""
        if feature_names is None:
            return _feature_names(None, F)
        if isinstance(feature_names, (str, bytes)) or not isinstance(feature_names, Sequence):
            raise InputTypeError(f"feature_names must be a list of {F} per-step names or "
                                 f"{2 * F} feature names, got {feature_names!r}")
        if len(feature_names) == 2 * F:
            return _names(feature_names, "feature_names", 2 * F)
        if len(feature_names) == F:
            return _feature_names(feature_names, F)
        raise InputError(f"feature_names has {len(feature_names)} names; give {F} per-step "
                         f"names (expanded to <name>_t, <name>_prev) or all {2 * F} "
                         "feature names")

    def fit(self, X: Any, Y: Any, feature_names: Sequence[str] | None = None
            ) -> "OperonLabelClassifier":
        """Fit one Operon formula per label column.

        Parameters
        ----------
        X : array (n, time >= 2, F) of windows
        Y : array (n, n_labels) or (n,) of 0/1 (or bool) labels at each
            window's last step; each column must hold both classes
        feature_names : optional; F per-step input names (expanded to
            ``<name>_t``, ``<name>_prev``) or the 2F feature names themselves

        Returns
        -------
        self
        """
        p = self._check_params()
        try:
            from pyoperon.sklearn import SymbolicRegressor
        except ImportError as exc:  # pragma: no cover - pyoperon is a dependency
            raise ImportError("OperonLabelClassifier needs pyoperon (pip install "
                              f"pyoperon): {exc}") from None
        Xa = _windows(X)
        n, _, F = Xa.shape
        try:
            y_shape = tuple(np.shape(Y))
        except Exception:  # ragged lists and the like: _labels explains
            y_shape = ()
        n_out = y_shape[1] if len(y_shape) == 2 else 1
        if n_out == 0:
            raise InputError("Y has no label columns; give at least one")
        Ya = _labels(Y, "Y", n, n_out)
        for j in range(n_out):
            if Ya[:, j].min() == Ya[:, j].max():
                raise InputError(f"Y column {j} holds only {int(Ya[0, j])}s; each label "
                                 "needs both classes to fit a classifier")
        names = self._fit_names(feature_names, F)
        feats = np.concatenate([Xa[:, -1, :], Xa[:, -2, :]], axis=1)
        rows = np.arange(n)
        if n > p["max_samples"]:
            rng = np.random.default_rng(p["seed"])
            rows = np.sort(rng.choice(n, p["max_samples"], replace=False))
        # Operon reads its data as float32: give it float32 values, so that
        # the formula and Operon see the same inputs in the check below.
        Xs = feats[rows].astype(np.float32).astype(np.float64)
        placeholders = [f"x{i}" for i in range(2 * F)]

        formulas, texts, models, stats = [], [], [], []
        for j in range(n_out):
            y = Ya[rows, j]
            if y.min() == y.max():
                raise InputError(f"Y column {j} holds only {int(y[0])}s in the "
                                 f"{len(rows)} training rows drawn (max_samples); raise "
                                 "max_samples or change seed")
            target = y if self.target == "probability" else np.where(y > 0, 1.0, -1.0) \
                * LOGIT_TARGET
            reg = SymbolicRegressor(
                allowed_symbols=p["allowed_symbols"], max_length=p["max_length"],
                max_time=p["max_time"], n_threads=p["n_threads"],
                random_state=p["seed"] + j, objectives=["r2"],
                optimizer_iterations=p["optimizer_iterations"],
                generations=p["generations"], population_size=p["population_size"])
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reg.fit(Xs, target)
                raw = reg.get_model_string(reg.model_, _PRECISION, placeholders)
            seconds = time.perf_counter() - t0
            expr = formula_from_operon_text(raw, placeholders, names)
            check = check_reproduces(expr, names, Xs, reg.predict(Xs), j, raw)
            formulas.append(expr)
            texts.append(_NUMBER_RE.sub(_short_number, raw))
            models.append(reg)
            stats.append({**reg.stats_, "fit_seconds": seconds,
                          **{f"check_{k}": v for k, v in check.items()}})

        self.formulas_ = formulas
        self.model_texts_ = texts
        self.operon_models_ = models
        self.stats_ = stats
        self.feature_names_ = names
        self.n_inputs_ = F
        self.n_labels_ = n_out
        self.train_rows_ = rows
        self._fns = None
        return self

    # ------------------------------------------------------------ scoring
    def _functions(self):
        fns = getattr(self, "_fns", None)
        if fns is None:
            fns = self._fns = [to_numpy(f, self.feature_names_) for f in self.formulas_]
        return fns

    def decision_function(self, X: Any) -> np.ndarray:
        """The formulas :math:`f` on the last two steps of each window,
        shape (n, n_labels); NaN or inf where a formula is undefined."""
        self._check_fitted()
        Xa = _windows(X, "X", self.n_inputs_)
        feats = np.concatenate([Xa[:, -1, :], Xa[:, -2, :]], axis=1)
        with np.errstate(all="ignore"):
            return np.column_stack([f(feats) for f in self._functions()])

    def predict_proba(self, X: Any) -> np.ndarray:
        r"""Scores in [0, 1], shape (n, n_labels): :math:`\sigma(f)` for
        ``target="logit"``, :math:`\mathrm{clip}(f, 0, 1)` for
        ``"probability"``.  Where a formula is NaN the score is 0.5 (with a
        RuntimeWarning); :math:`\pm\infty` give 1 and 0."""
        d = self.decision_function(X)
        if self.target == "logit":
            with np.errstate(over="ignore"):
                out = 1.0 / (1.0 + np.exp(-d))
        else:
            out = np.clip(d, 0.0, 1.0)
        bad = np.isnan(out)
        if bad.any():
            warnings.warn(f"the formula is undefined (NaN) on {int(bad.sum())} of "
                          f"{bad.size} window-label pairs; they are scored 0.5",
                          RuntimeWarning, stacklevel=2)
            out[bad] = 0.5
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Boolean labels (n, n_labels): score >= 0.5."""
        return self.predict_proba(X) >= 0.5

    # ------------------------------------------------------------ results
    def sympy(self) -> list[sympy.Expr]:
        """The formulas, one per label (``formulas_``)."""
        self._check_fitted()
        return list(self.formulas_)

    def latex(self, digits: int | None = 4) -> list[str]:
        """LaTeX of each formula, floats shown with ``digits`` significant
        digits (None: all)."""
        self._check_fitted()
        return [to_latex(f, digits=digits) for f in self.formulas_]

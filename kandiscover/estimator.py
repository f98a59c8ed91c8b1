r"""``KANRegressor``: the whole discovery pipeline as a scikit-learn estimator.

For each candidate width (the one given, or a small menu: an additive model
:math:`\sum_i f_i(x_i)`, a composed one :math:`g(\sum_i f_i(x_i))`, and a
product :math:`g\bigl((\sum_i f_i(x_i))(\sum_i h_i(x_i))\bigr)`):

1. train on 80 % of the rows: Adam warm-up (avoids the poor local minima
   that LBFGS alone falls into on narrow networks), then LBFGS with the
   L1 + entropy penalty ``lamb`` at the first grid size, all on the
   standardized target (y - mean) / std, whose mean and std then go into
   the output node: so the formula does not depend on y's units;
2. prune with ``prune_thresholds`` (node, edge);
3. refine the grid along ``grid_schedule``, retraining after each step;
4. auto-symbolic (every edge gets its best library function) and LBFGS
   fine-tuning of all symbolic parameters;
5. read the formula (constants snapped to simple values when that keeps the
   formula on the network) and score it on the 20 % held out.

The chosen formula is the most accurate one unless a simpler one is nearly
as good: among candidates whose validation loss is within 1.5x of the best,
the one with the highest PySR score :math:`-\Delta \log(\text{loss}) /
\Delta\,\text{complexity}` along the Pareto front.  The search stops early
when a formula reproduces the held-out data to ``1e-5`` relative RMS.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import DataConversionWarning

from ._timelimit import past as _past
from ._validation import as_2d_array, check_fraction, check_int, check_positive
from .errors import InputError, InputTypeError, KandiscoverError, PruningError, TrainingError

__all__ = ["KANRegressor"]

_EXACT = 1e-5  # relative RMS on held-out rows below which the search stops
_SPARSER_LEVELS = 3  # edges dropped one by one from the chosen network
_PRODUCT_RESTARTS = 1  # extra seeds for structures with multiplication nodes


def _has_products(width) -> bool:
    return any(isinstance(w, (tuple, list)) and len(w) == 2 and w[1] for w in width)


def _as_table(value: Any, name: str) -> np.ndarray:
    """A numpy array of ``value``: sparse matrices are refused, object arrays
    of numbers converted, complex numbers refused."""
    import scipy.sparse

    if scipy.sparse.issparse(value):
        raise InputTypeError(f"{name} is a sparse matrix: sparse input is not supported; "
                             f"pass {name}.toarray()")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise InputError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{name} must be numeric, got an array of dtype object "
                                 f"holding non-numbers ({exc})") from None
    return arr


@dataclass
class _Candidate:
    width: list
    model: Any
    expr: sympy.Expr
    loss: float            # validation MSE of the formula
    complexity: int
    seconds: float
    spline_loss: float     # validation MSE of the spline network
    note: str = ""         # how the network was read ("linear factors")

    @property
    def label(self) -> str:
        return f"{self.width}" + (f" ({self.note})" if self.note else "")


class _OutOfTime(Exception):
    """The time budget ran out (internal to :meth:`KANRegressor.fit`)."""


def _default_widths(d: int) -> list[list]:
    if d == 1:
        return [[1, 1], [1, 1, 1]]
    return [[d, 1], [d, 1, 1], [d, (0, 1), 1]]


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    pred = np.asarray(pred, float).reshape(y.shape)
    if not np.isfinite(pred).all():
        return float("inf")
    return float(np.mean((pred - y) ** 2))


def _pareto(cands: list[_Candidate]) -> list[_Candidate]:
    """Non-dominated candidates by (complexity, loss), simplest first."""
    front: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: (c.complexity, c.loss)):
        if not front or c.loss < front[-1].loss:
            front.append(c)
    return front


def _choose(front: list[_Candidate]) -> _Candidate:
    """PySR's "best": highest -dlog(loss)/dcomplexity among losses <= 1.5 x min."""
    best_loss = min(c.loss for c in front)
    floor = max(best_loss, 1e-300)
    ok = [c for c in front if c.loss <= 1.5 * floor or c.loss <= 1e-30]
    if len(ok) == 1:
        return ok[0]
    scores, prev = [], None
    for c in front:
        if prev is None:
            s = 0.0
        else:
            dc = max(c.complexity - prev.complexity, 1)
            s = -(np.log(max(c.loss, 1e-300)) - np.log(max(prev.loss, 1e-300))) / dc
        prev = c
        if c in ok:
            scores.append((s, c))
    return max(scores, key=lambda t: t[0])[1]


class KANRegressor(RegressorMixin, BaseEstimator):
    """Symbolic regression with Kolmogorov-Arnold Networks.

    Parameters
    ----------
    width : list or None
        KAN width such as ``[2, 1, 1]`` or ``[2, (0, 1), 1]``; None tries a
        small menu of structures and keeps the best formula.
    grid_schedule : tuple of int
        Grid sizes: training starts at the first, each next one refines.
    lamb : float
        Sparsity penalty during the first stage.  The network trains on the
        standardized target, so the objective is
        ``MSE(y) / var(y) + lamb * (L1 + entropy)``: rescaling y (a change of
        units) leaves the formula's structure unchanged.
    prune_thresholds : (float, float)
        Node and edge attribution thresholds for pruning.
    library : list of str or None
        Candidate functions for the edges (default: the whole library).
    seed : int
    time_budget : float or None
        Seconds for the search.  Once spent, no new candidate structure
        starts, a structure in training is abandoned at its next stage (the
        first structure always finishes), the fine-tuning of its symbolic
        edges stops with the best parameters it has evaluated, and the
        sparser readings stop; ``fit`` may exceed it by about one training
        stage and one formula reading.
    steps : int
        LBFGS steps per grid stage.
    verbose : bool
        Print each candidate's result.

    Attributes
    ----------
    model_ : the chosen symbolic :class:`~kandiscover.KAN`
    expression_ : its sympy formula (also ``sympy()``)
    equations_ : pandas DataFrame (complexity, loss, equation, sympy_format,
        width, chosen) along the Pareto front
    variable_names_ : names of the inputs
    n_features_in_ : number of inputs
    seconds_ : wall time of ``fit``
    """

    def __init__(self, width: Sequence | None = None, grid_schedule: Sequence[int] = (3, 10),
                 lamb: float = 1e-3, prune_thresholds: tuple[float, float] = (1e-2, 3e-2),
                 library: Sequence[str] | None = None, seed: int = 0,
                 time_budget: float | None = None, steps: int = 20, verbose: bool = True):
        self.width = width
        self.grid_schedule = grid_schedule
        self.lamb = lamb
        self.prune_thresholds = prune_thresholds
        self.library = library
        self.seed = seed
        self.time_budget = time_budget
        self.steps = steps
        self.verbose = verbose

    # ------------------------------------------------------------ checks
    def _check_params(self) -> None:
        from .symbolic import library as lib

        sched = self.grid_schedule
        if isinstance(sched, (int, np.integer)):
            sched = (int(sched),)
        if not isinstance(sched, Sequence) or not sched:
            raise InputError(f"grid_schedule must be a list of grid sizes >= 1, got {sched!r}")
        self._schedule = [check_int(g, "grid_schedule entries", 1) for g in sched]
        check_int(self.seed, "seed", 0)
        if not (isinstance(self.prune_thresholds, Sequence) and len(self.prune_thresholds) == 2):
            raise InputError("prune_thresholds must be (node_threshold, edge_threshold), "
                             f"got {self.prune_thresholds!r}")
        for v, n in zip(self.prune_thresholds, ("node", "edge")):
            check_fraction(v, f"prune_thresholds ({n})")
        if self.time_budget is not None:
            check_positive(self.time_budget, "time_budget (seconds)")
        lib.resolve(self.library)

    def _validate_X(self, X: Any, fitting: bool) -> np.ndarray:
        names = getattr(X, "columns", None)
        Xa = _as_table(X, "X")
        if Xa.ndim != 2:
            raise InputError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}; "
                             "Reshape your data: X.reshape(-1, 1) for one feature, "
                             "X.reshape(1, -1) for one sample")
        if Xa.shape[1] == 0:
            raise InputError(f"X has 0 feature(s) (shape={Xa.shape}) while a minimum of 1 "
                             "is required.")
        Xa = as_2d_array(Xa, "X")
        if not fitting:
            if Xa.shape[1] != self.n_features_in_:
                raise InputError(f"X has {Xa.shape[1]} features, but KANRegressor is "
                                 f"expecting {self.n_features_in_} features as input")
            fitted = getattr(self, "feature_names_in_", None)
            if names is not None and fitted is not None and \
                    [str(c) for c in names] != list(fitted):
                raise InputError("The feature names should match those that were passed "
                                 f"during fit, in the same order: got {list(map(str, names))}"
                                 f", fitted on {list(fitted)}")
        elif names is not None:
            self.feature_names_in_ = np.asarray([str(c) for c in names], dtype=object)
        return Xa

    # --------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any, variable_names: Sequence[str] | None = None
            ) -> "KANRegressor":
        """Discover a formula for ``y`` as a function of the columns of ``X``."""
        t0 = time.perf_counter()
        self._check_params()
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        Xa = self._validate_X(X, fitting=True)
        if y is None:
            raise InputError("KANRegressor requires y to be passed, but the target y is None")
        y_raw = _as_table(y, "y")
        ya = as_2d_array(y_raw, "y")
        if ya.shape[1] != 1:
            raise InputError(f"y must be one column of targets, got shape {ya.shape}")
        if y_raw.ndim == 2:
            warnings.warn("A column-vector y was passed when a 1d array was expected; "
                          "it is used as an array of shape (n,)", DataConversionWarning,
                          stacklevel=2)
        ya = ya[:, 0]
        n, d = Xa.shape
        if len(ya) != n:
            raise InputError(f"X and y have different numbers of rows: {n} and {len(ya)}")
        if n <= d:
            raise InputError(f"fewer samples than variables: {n} rows for {d} variables "
                             f"(n_samples={n})")
        if np.ptp(ya) == 0:
            raise InputError("y is constant: there is no formula to discover")
        if variable_names is None:
            variable_names = (list(self.feature_names_in_) if hasattr(self, "feature_names_in_")
                              else [f"x{i}" for i in range(d)])
        if isinstance(variable_names, str) or len(variable_names) != d:
            raise InputError(f"variable_names must list {d} names (one per column of X), "
                             f"got {variable_names!r}")
        self.variable_names_ = [str(v) for v in variable_names]
        self.n_features_in_ = d

        rng = np.random.default_rng(self.seed)
        perm = rng.permutation(n)
        n_val = max(1, int(round(0.2 * n))) if n >= 10 else 0
        val, tr = perm[:n_val], perm[n_val:]
        Xtr, ytr = Xa[tr], ya[tr]
        Xv, yv = (Xa[val], ya[val]) if n_val else (Xtr, ytr)

        widths = [list(self.width)] if self.width is not None else _default_widths(d)
        cands: list[_Candidate] = []
        errors: list[str] = []
        n_tried = 0
        jobs = [(w, 0) for w in widths]
        deadline = None if self.time_budget is None else t0 + float(self.time_budget)
        while jobs:
            width, restart = jobs.pop(0)
            try:
                have = any(np.isfinite(c.loss) for c in cands)   # a usable formula
                if have and _past(deadline):
                    raise _OutOfTime
                found = self._candidate(width, Xtr, ytr, Xv, yv, restart,
                                        deadline if have else None)
            except _OutOfTime:
                if self.verbose:
                    print(f"time budget of {self.time_budget:g} s spent after "
                          f"{n_tried} of {len(widths)} structures")
                break
            except (TrainingError, PruningError) as exc:
                errors.append(f"width {width}: {exc}")
                if self.verbose:
                    print(f"width {width}: failed ({str(exc).splitlines()[0]})")
                found = []
            cands.extend(found)
            n_tried += restart == 0
            if self.verbose:
                for c in found:
                    print(f"width {c.label}: {c.expr}  (val MSE {c.loss:.3g}, complexity "
                          f"{c.complexity}, {c.seconds:.1f} s)")
            if found and min(c.loss for c in found) <= self._exact_loss(yv):
                if self.verbose and jobs:
                    print("this formula reproduces the held-out data; search stopped")
                break
            # products train into poor minima more often: one restart from another seed
            if restart < _PRODUCT_RESTARTS and _has_products(width):
                jobs.insert(0, (width, restart + 1))
        for c in cands:
            if not np.isfinite(c.loss):
                errors.append(f"width {c.label}: formula: {c.expr} gives non-finite values "
                              "on the held-out rows")
        cands = [c for c in cands if np.isfinite(c.loss)]
        if not cands:
            raise TrainingError("no candidate structure gave a finite formula:\n  "
                                + "\n  ".join(errors or ["(no candidate ran)"]))
        best = _choose(_pareto(cands))
        self._pending = None
        if best.loss <= self._exact_loss(yv):
            # no sparser formula can beat an exact one: read them when asked
            self._pending = (Xtr, ytr, Xv, yv)
        else:
            cands.extend(self._sparser(best, Xtr, ytr, Xv, yv, deadline))
        front = _pareto(cands)
        best = _choose(front)
        self.model_ = best.model
        self.expression_ = best.expr
        self.width_ = best.width
        self.candidates_ = cands
        self._front = front
        self._best = best
        self._fn = self._compile(best.expr)
        self.seconds_ = time.perf_counter() - t0
        return self

    def _sparser(self, best: _Candidate, Xtr, ytr, Xv, yv,
                 deadline: float | None = None) -> list[_Candidate]:
        """The chosen network with its weakest edges dropped one by one (the
        sparser points of the Pareto front), until ``deadline``."""
        from .compare.metrics import complexity
        from .symbolic.auto import sparser_readings
        from .symbolic.expression import to_sympy

        out = []
        t = time.perf_counter()
        try:
            for k, (net, _) in enumerate(sparser_readings(best.model, Xtr,
                                                          levels=_SPARSER_LEVELS), 1):
                if _past(deadline):
                    break
                expr = to_sympy(net, self.variable_names_, X_check=Xv, snap_tol=1e-3)
                fn = self._compile(expr)
                out.append(_Candidate(best.width, net, expr, _mse(fn(Xv), yv),
                                      complexity(expr), time.perf_counter() - t,
                                      best.spline_loss,
                                      f"{k} edge{'s' if k > 1 else ''} fewer"))
        except KandiscoverError as exc:
            if self.verbose:
                print(f"sparser readings stopped: {exc}")
        if self.verbose and out:
            print(f"sparser readings of {best.label}: "
                  + "; ".join(f"{c.expr} (val MSE {c.loss:.3g})" for c in out))
        return [c for c in out if np.isfinite(c.loss)]

    def _candidate(self, width, Xtr, ytr, Xv, yv, restart: int = 0,
                   deadline: float | None = None) -> list[_Candidate]:
        """One structure trained, pruned and read as formulas; raises
        :class:`_OutOfTime` between stages once ``deadline`` has passed."""
        from .kan.network import KAN
        from .symbolic.auto import auto_symbolic, linear_factors
        from .symbolic.expression import to_sympy
        from .compare.metrics import complexity

        t = time.perf_counter()
        sched = self._schedule
        node_thr, edge_thr = self.prune_thresholds
        model = KAN(width, grid=sched[0], seed=self.seed + 7919 * restart, dtype=torch.float64)
        # the spline stages fit the standardized target, so the penalty, Adam's
        # epsilon and the optimizers' tolerances do not depend on y's units;
        # the output node takes std and mean back before the formulas are read
        mean, std = float(np.mean(ytr)), float(np.std(ytr)) or 1.0
        ztr = (ytr - mean) / std

        def stage(name, fn):
            if _past(deadline):
                raise _OutOfTime
            try:
                return fn()
            except TrainingError as exc:
                raise TrainingError(f"{name}: {exc}") from None

        stage("warm-up", lambda: model.fit(Xtr, ztr, opt="adam", steps=10 * self.steps,
                                           lr=0.02, verbose=False))
        stage("sparsification", lambda: model.fit(Xtr, ztr, steps=self.steps, lamb=self.lamb,
                                                  verbose=False))
        model, _ = model.prune(Xtr, node_threshold=node_thr, edge_threshold=edge_thr)
        for g in sched[1:]:
            model = model.refine(g)
            stage(f"training at grid {g}", lambda: model.fit(Xtr, ztr, steps=self.steps,
                                                             verbose=False))
        with torch.no_grad():
            model.node_scale[-1].mul_(std)
            model.node_bias[-1].mul_(std).add_(mean)
        spline_loss = _mse(model.predict(Xv), yv)
        if not np.isfinite(spline_loss):
            raise TrainingError("trained network: it gives non-finite values on the "
                                "held-out rows")
        # a product's factors are only fixed up to a power: also try straight ones
        def variants():
            yield model, spline_loss, ""
            if out and out[0].loss <= self._exact_loss(yv) or _past(deadline):
                return
            try:
                lin = linear_factors(model, Xtr, ytr, steps=self.steps)
            except TrainingError:
                return
            if lin is not None:
                yield lin, _mse(lin.predict(Xv), yv), "linear factors"

        out: list[_Candidate] = []
        for net, loss, note in variants():
            if not np.isfinite(loss):
                continue
            sym, _ = auto_symbolic(net, Xtr, ytr, lib=self.library, r2_threshold=0.0,
                                   deadline=deadline)
            expr = to_sympy(sym, self.variable_names_, X_check=Xv,
                            snap_tol=min(1e-3, 1e-6 + 0.1 * np.sqrt(loss) / (np.std(yv) or 1.0)))
            fn = self._compile(expr)
            label = ", ".join(filter(None, [f"seed {self.seed + 7919 * restart}"
                                            if restart else "", note]))
            out.append(_Candidate(list(width), sym, expr, _mse(fn(Xv), yv), complexity(expr),
                                  time.perf_counter() - t, loss, label))
        return out

    @staticmethod
    def _exact_loss(yv: np.ndarray) -> float:
        """Validation MSE at which a formula counts as reproducing the data."""
        return _EXACT ** 2 * max(float(np.var(yv)), 1e-300)

    def _compile(self, expr):
        """The formula as a function of X that evaluates without floating-point
        warnings: invalid values (sqrt of a negative) come out NaN, and score
        inf in :func:`_mse`."""
        from .symbolic.export import to_numpy
        fn = to_numpy(expr, self.variable_names_)

        def quiet(X: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                return fn(X)
        return quiet

    # ----------------------------------------------------------- results
    def _check_fitted(self) -> None:
        from sklearn.exceptions import NotFittedError
        if not hasattr(self, "model_"):
            raise NotFittedError("this KANRegressor is not fitted yet; call fit(X, y) first")

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_fn", None)       # a compiled closure; rebuilt on demand
        return state

    def predict(self, X: Any) -> np.ndarray:
        """Values of the chosen formula on the rows of ``X``."""
        self._check_fitted()
        Xa = self._validate_X(X, fitting=False)
        if getattr(self, "_fn", None) is None:
            self._fn = self._compile(self.expression_)
        return np.asarray(self._fn(Xa), float)

    def sympy(self) -> sympy.Expr:
        """The chosen formula."""
        self._check_fitted()
        return self.expression_

    def latex(self, names: dict | None = None) -> str:
        """The chosen formula in LaTeX (physics-style symbol names)."""
        from .symbolic.export import to_latex
        self._check_fitted()
        return to_latex(self.expression_, names=names)

    def _complete_front(self) -> None:
        """Add the sparser readings that ``fit`` left for later (exact formulas)."""
        if getattr(self, "_pending", None) is None:
            return
        Xtr, ytr, Xv, yv = self._pending
        self._pending = None
        self.candidates_ = self.candidates_ + self._sparser(self._best, Xtr, ytr, Xv, yv)
        front = _pareto(self.candidates_)
        if all(c is not self._best for c in front):   # an equally exact, simpler reading
            front = sorted(front + [self._best], key=lambda c: (c.complexity, c.loss))
        self._front = front

    @property
    def equations_(self):
        """The Pareto front as a DataFrame, simplest first; ``chosen`` marks the pick.

        It includes the chosen network with its weakest edges dropped one by
        one; when the chosen formula is exact these are only read on the
        first access (a second or two)."""
        import pandas as pd
        self._check_fitted()
        self._complete_front()
        rows = [dict(complexity=c.complexity, loss=c.loss, equation=str(c.expr),
                     sympy_format=c.expr, width=c.label, chosen=c is self._best)
                for c in self._front]
        return pd.DataFrame(rows, columns=["complexity", "loss", "equation", "sympy_format",
                                           "width", "chosen"])

    def latex_table(self) -> str:
        """The Pareto front as a LaTeX tabular."""
        from .symbolic.export import to_latex
        self._check_fitted()
        self._complete_front()
        lines = [r"\begin{tabular}{@{}rrl@{}}", r"\toprule",
                 r"Complexity & Loss & Equation \\", r"\midrule"]
        for c in self._front:
            lines.append(f"{c.complexity} & {c.loss:.3g} & ${to_latex(c.expr)}$ \\\\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines)

    def _more_tags(self):
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

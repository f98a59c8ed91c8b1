r"""Fit named functions to one KAN edge.

For an edge's samples :math:`(x_k, y_k = \phi(x_k))` and a library function
:math:`f`, find

.. math::
    \min_{a, b, c, d} \sum_k \bigl(y_k - c\,f(a x_k + b) - d\bigr)^2 .

For fixed (a, b) the problem is linear in (c, d) and solved in closed form,
so the search is over (a, b) only ("variable projection"):

1. a coarse grid of (a, b), all evaluated at once; combinations whose
   argument leaves the function's domain (``log`` of a negative number,
   ``arcsin`` beyond 1, a pole inside the data) are discarded;
2. least-squares refinement (``scipy.optimize.least_squares``, trust region) from
   the best few grid points, for the 10 functions that rank best on the
   coarse grid (the others are not refined).

Which of (a, b) are searched depends on the function (see
:data:`kandiscover.symbolic.library.SEARCH_KINDS`): for a power
:math:`(a x + b)^p = |a|^p (\pm x + b/a)^p` only the sign of a and the
shift matter, for ``exp`` only a, and so on.  This makes the fits faster and
the formulas canonical (``(x + 0.5)**2`` rather than ``(0.73 x + 0.37)**2``).

Ranking.  Candidates are ordered by

.. math::
    \text{score} = \log_{10}\bigl(\max(1 - r^2, 10^{-10})\bigr)
                   + w \cdot \text{complexity},

lower is better, with ``w = 0.5`` by default: one extra unit of complexity
must buy a 3.2x smaller unexplained variance.  A candidate that is both
worse and more complex can never win, and the constant ``"0"`` is never a
candidate: an edge becomes zero only because pruning removed it.

Degenerate fits are dropped: when f is only used as its local Taylor
expansion (``cos(0.01 x)`` imitating a parabola, ``(x + 100)^2`` a line),
the fit cancels a huge ``c f`` against ``d``; any fit with
``|d| > 30 (max|y| + std(y))`` is discarded, leaving the simpler function
that describes the edge directly.  And a fit that only uses the straight
part of f (``7500 sin(0.01 x)`` for a line: f linear on the argument's span
to ``1 - r^2 < 1e-6``) is credited with no more r^2 than a straight line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InputError
from . import library as _library

__all__ = ["EdgeFit", "fit_function", "fit_edge", "edge_samples", "suggest", "score"]

_R2_FLOOR = 1e-10
_CANCEL = 30.0  # |d| above this many times the edge's scale marks a degenerate fit
_REFINE_TOP = 10  # functions refined by least squares after the coarse grid
_LINEAR_TOL = 1e-6  # f is "a straight line on its argument's span" below this 1 - r^2


@dataclass(frozen=True)
class EdgeFit:
    """One candidate for an edge: ``c * f(a * x + b) + d``."""

    name: str
    params: tuple[float, float, float, float]
    r2: float
    complexity: int
    score: float

    def __str__(self) -> str:
        a, b, c, d = self.params
        return (f"{self.name:>8}  r2={self.r2:.8f}  complexity={self.complexity}  "
                f"a={a:.5g} b={b:.5g} c={c:.5g} d={d:.5g}")


def score(r2: float, complexity: float, weight: float = 0.5) -> float:
    """Ranking score of a fit (lower is better); see the module docstring."""
    return float(np.log10(max(1.0 - r2, _R2_FLOOR)) + weight * complexity)


# ------------------------------------------------------------------ grids
def _grid(kind: str, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Coarse (a, b) candidates for the data range [lo, hi]."""
    h = max((hi - lo) / 2, 1e-12)
    if kind == "linear":
        return np.array([1.0]), np.array([0.0])
    if kind == "shift":
        # arg = s * (x - x0): x0 spans the data and beyond, plus poles just outside
        delta = h * np.logspace(-3, 2, 16)
        x0 = np.concatenate([np.linspace(lo - 3 * h, hi + 3 * h, 61), lo - delta, hi + delta])
        a = np.repeat([1.0, -1.0], len(x0))
        return a, -a * np.tile(x0, 2)
    if kind == "scale":
        mags = np.logspace(-2, 1.5, 40) / h
        a = np.concatenate([mags, -mags])
        return a, np.zeros_like(a)
    # full: a magnitude x centre
    mags = np.logspace(-1.5, 1.5, 24) / h
    x0 = np.linspace(lo - 2 * h, hi + 2 * h, 31)
    a = np.repeat(np.concatenate([mags, -mags]), len(x0))
    return a, -a * np.tile(x0, 2 * len(mags))


def _eval(entry, arg: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = entry.torch_fn(torch.from_numpy(arg))
    return out.numpy() if isinstance(out, torch.Tensor) else np.asarray(out, float)


def _project(F: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form c, d and r^2 for each row of F (K, n) against y (n,)."""
    yc = y - y.mean()
    syy = float(yc @ yc)
    fm = F.mean(axis=1, keepdims=True)
    fc = F - fm
    sff = np.einsum("kn,kn->k", fc, fc)
    sfy = fc @ yc
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = sfy / sff
        r2 = sfy * sfy / (sff * syy)
    d = y.mean() - c * fm[:, 0]
    bad = ~np.isfinite(r2) | (sff <= 1e-300)
    r2 = np.where(bad, -np.inf, np.minimum(r2, 1.0))
    return c, d, r2


def _valid(entry, arg: np.ndarray) -> np.ndarray:
    """Rows of arg (K, n) that stay inside one domain interval."""
    lo, hi = arg.min(axis=1), arg.max(axis=1)
    ok = np.zeros(len(arg), bool)
    for a, b in entry.domain:
        ok |= (lo >= a) & (hi <= b)
    return ok


def _credit_taylor(x: np.ndarray, y: np.ndarray, entry, results: list) -> list:
    """A fit whose argument spans so little of f that f is a straight line
    there (``7500 sin(0.01 x)`` for a line) explains no more than a line
    does: credit it with the straight line's r^2, so that its extra r^2
    (spline noise) cannot outrank the function ``x``."""
    _, _, r2_line = _project(x[None, :], y)
    out = []
    for r, a, b, c, d in results:
        u = a * x + b
        _, _, lin = _project(u[None, :], _eval(entry, u[None, :])[0])
        if np.isfinite(lin[0]) and 1.0 - lin[0] < _LINEAR_TOL:
            r = min(r, float(r2_line[0]))
        out.append((r, a, b, c, d))
    return out


def least_squares_fit(resid: Any, theta0: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.least_squares`` as every symbolic fit calls it.

    The trust-region method, not ``"lm"``: SciPy's C MINPACK (seen in 1.17.1)
    reads one element past its Jacobian in ``qrfac``, so ``"lm"``'s steps
    depended on the heap and refits differed.  Jacobian scaling and no
    gradient test (``gtol=None``: trf's is absolute, in the residuals' units;
    lm's is a cosine), as ``"lm"`` had.
    """
    from scipy.optimize import least_squares
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # huge residuals
        return least_squares(resid, theta0, method="trf", x_scale="jac", gtol=None, **kwargs)


def fit_function(x: np.ndarray, y: np.ndarray, entry: "_library.SymbolicFunction",
                 weight: float = 0.5, n_starts: int = 2, refine: bool = True
                 ) -> EdgeFit | None:
    """Best ``c * f(a x + b) + d`` for one library function, or None when no
    (a, b) keeps the argument inside the function's domain.  ``refine=False``
    stops after the coarse grid (a quick estimate)."""

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    lo, hi = float(x.min()), float(x.max())
    a_grid, b_grid = _grid(entry.search, lo, hi)
    arg = a_grid[:, None] * x[None, :] + b_grid[:, None]
    F = _eval(entry, arg)
    ok = _valid(entry, arg) & np.isfinite(F).all(axis=1)
    if not ok.any():
        return None
    c, d, r2 = _project(np.where(ok[:, None], F, 0.0), y)
    r2[~ok] = -np.inf
    if not np.isfinite(r2).any():
        return None
    best = [int(k) for k in np.argsort(-r2)[:n_starts] if np.isfinite(r2[k])]
    results = [(float(r2[k]), a_grid[k], b_grid[k], float(c[k]), float(d[k])) for k in best]
    kind = entry.search
    if refine and kind in ("shift", "scale", "full"):
        yc = y - y.mean()
        penalty = np.abs(yc) + 1.0

        def unpack(theta, a0, b0):
            if kind == "shift":
                return a0, theta[0]
            if kind == "scale":
                return theta[0], 0.0
            return theta[0], theta[1]

        for _, a0, b0, _, _ in list(results):
            def resid(theta, a0=a0, b0=b0):
                a, b = unpack(theta, a0, b0)
                u = a * x + b
                if not _valid(entry, u[None, :])[0]:
                    return penalty
                f = _eval(entry, u[None, :])
                if not np.isfinite(f).all():
                    return penalty
                cc, dd, _ = _project(f, y)
                if not np.isfinite(cc[0]):
                    return penalty
                return y - cc[0] * f[0] - dd[0]

            theta0 = {"shift": [b0], "scale": [a0], "full": [a0, b0]}[kind]
            try:
                sol = least_squares_fit(resid, theta0, xtol=1e-10, ftol=1e-12, max_nfev=60)
            except (ValueError, FloatingPointError):
                continue
            a, b = unpack(sol.x, a0, b0)
            u = a * x + b
            if not _valid(entry, u[None, :])[0]:
                continue
            f = _eval(entry, u[None, :])
            if not np.isfinite(f).all():
                continue
            cc, dd, rr = _project(f, y)
            if np.isfinite(rr[0]):
                results.append((float(rr[0]), float(a), float(b), float(cc[0]), float(dd[0])))
    # a fit that only works as a local Taylor expansion of f (cos(0.01 x) for
    # a parabola, (x + 100)^2 for a line) cancels a huge c*f against d: drop it
    y_scale = float(np.abs(y).max()) + float(np.std(y))
    results = [r for r in results
               if abs(r[4]) <= _CANCEL * y_scale or abs(r[3]) <= 1e-300] or []
    if not results:
        return None
    if kind != "linear":
        results = _credit_taylor(x, y, entry, results)
    r2b, a, b, cc, dd = max(results, key=lambda t: t[0])
    if entry.period is not None:        # sin(a x + 2 pi) is sin(a x)
        b = b - entry.period * round(b / entry.period)
    return EdgeFit(entry.name, (float(a), float(b), cc, dd), r2b, entry.complexity,
                   score(r2b, entry.complexity, weight))


def fit_edge(x: Any, y: Any, lib: Sequence[str] | None = None, weight: float = 0.5
             ) -> list[EdgeFit]:
    """Fit every library function to samples (x, y); best first.

    ``lib`` names the candidate functions (default: the whole library except
    the constant ``"0"``).  A constant ``y`` is returned as the single fit
    ``x`` with ``c = 0`` and r^2 = 1.
    """
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size < 3:
        raise InputError(f"an edge fit needs matching x and y with at least 3 samples, got "
                         f"{x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError("edge samples contain NaN or infinite values")
    entries = _library.resolve(lib)
    if np.ptp(y) <= 1e-12 * (1.0 + np.abs(y).max()) or np.ptp(x) == 0:
        lin = _library.get("x")
        return [EdgeFit("x", (1.0, 0.0, 0.0, float(y.mean())), 1.0, lin.complexity,
                        score(1.0, lin.complexity, weight))]
    if len(entries) > _REFINE_TOP:
        # the coarse grid ranks the functions; only the best few are refined
        rough = [(f.score, k) for k, f in enumerate(
            fit_function(x, y, e, weight, refine=False) for e in entries) if f is not None]
        entries = [entries[k] for _, k in sorted(rough)[:_REFINE_TOP]]
    fits = [f for f in (fit_function(x, y, e, weight) for e in entries) if f is not None]
    # ties (scores within 0.01, equal complexity: sin vs a shifted cos) go
    # to the fit with the smaller shift b, then to the better r^2
    fits.sort(key=lambda f: (round(f.score, 2), f.complexity, abs(f.params[1]), -f.r2,
                             f.name))
    return fits


@torch.no_grad()
def edge_samples(model, l: int, i: int, j: int, X: Any = None, n_max: int = 512
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and outputs of edge (i -> j) of layer ``l`` on data ``X``
    (default: the sample kept from the last fit): ``n_max`` points evenly
    spread over the sorted inputs."""
    from ..sparsify.prune import _sample

    layer = model._layer(l)
    layer._check_edge(i, j)
    x = _sample(model, X, n_max=10 * n_max)
    h = model.trace(x)[0][l]
    order = torch.argsort(h[:, i])
    idx = order[torch.linspace(0, len(order) - 1, min(n_max, len(order))).round().long()]
    h = h[idx]
    phi = layer.edge_activations(h)[:, i, j]
    return h[:, i].double().cpu().numpy(), phi.double().cpu().numpy()


def suggest(model, l: int, i: int, j: int, top: int = 5, lib: Sequence[str] | None = None,
            X: Any = None, weight: float = 0.5) -> list[EdgeFit]:
    """The ``top`` best library functions for edge (i -> j) of layer ``l``,
    with r^2, complexity and fitted (a, b, c, d); best first."""
    x, y = edge_samples(model, l, i, j, X)
    return fit_edge(x, y, lib, weight)[:top]

"""Auto-symbolic: replace every spline edge by its best library function.

Layer by layer (so that each layer's edges are fitted on the inputs the
already-fixed layers produce), every live spline edge is fitted with
:func:`~kandiscover.symbolic.edgefit.fit_edge`.  An edge whose best
candidate reaches ``r2_threshold`` is fixed to it; the others stay splines.
Then, when data are given, the parameters of the whole network (the a, b,
c, d of the symbolic edges and any spline left) are fine-tuned: by
trust-region least squares when every edge is symbolic, by LBFGS otherwise.  A
fully symbolic network then gets an Occam pass: each edge tries its simpler
candidates and keeps one when the network's error does not grow (see
:func:`_simpler_edges`).  The input model is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from .._timelimit import past as _past
from .._validation import check_fraction, check_int
from ..errors import TrainingError
from . import library
from .edgefit import EdgeFit, fit_edge, least_squares_fit

__all__ = ["auto_symbolic", "SymbolicReport", "EdgeChoice", "linear_factors",
           "product_factor_edges", "sparser_readings"]


@dataclass
class EdgeChoice:
    """What auto-symbolic decided for edge (i -> j) of layer ``layer``."""

    layer: int
    i: int
    j: int
    name: str                   # the library function, or "spline" if left alone
    params: tuple[float, float, float, float] | None
    r2: float                   # r^2 of the best candidate on the edge's samples
    complexity: int | None
    candidates: list[EdgeFit] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        return self.name != "spline"


@dataclass
class SymbolicReport:
    """Per-edge choices and the fit of the network before/after fine-tuning."""

    edges: list[EdgeChoice]
    r2_threshold: float
    rmse_before: float | None = None   # spline network on the data
    rmse_symbolic: float | None = None  # right after fixing, before fine-tuning
    rmse_after: float | None = None    # after fine-tuning

    @property
    def all_symbolic(self) -> bool:
        return all(e.fixed for e in self.edges)

    def __str__(self) -> str:
        lines = [f"auto_symbolic (r2_threshold={self.r2_threshold}):"]
        for e in self.edges:
            if e.fixed:
                a, b, c, d = e.params
                lines.append(f"  layer {e.layer} edge {e.i}->{e.j}: {e.name:<8} r2={e.r2:.6f} "
                             f"a={a:.4g} b={b:.4g} c={c:.4g} d={d:.4g}")
            else:
                best = e.candidates[0].name if e.candidates else "-"
                lines.append(f"  layer {e.layer} edge {e.i}->{e.j}: spline kept "
                             f"(best {best}, r2={e.r2:.6f})")
        for label, v in (("spline network", self.rmse_before),
                         ("after fixing", self.rmse_symbolic),
                         ("after fine-tuning", self.rmse_after)):
            if v is not None:
                lines.append(f"  RMSE {label}: {v:.4g}")
        return "\n".join(lines)


def _rmse(model, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y) ** 2)))


_EXACT = 1e-9  # RMSE / std(y) below which a symbolic network counts as exact

_SLOTS = {"linear": (2, 3), "shift": (1, 2, 3), "scale": (0, 2, 3), "none": ()}


def _free_slots(model) -> list[tuple[int, int, int, int]]:
    """(layer, i, j, k) of the symbolic parameters that are not redundant:
    a is fixed for powers/roots/logs (only the shift matters), b for exp,
    and only one edge per subnode keeps its additive constant d."""
    slots = []
    for l, layer in enumerate(model.layers):
        has_d: set[int] = set()
        for (i, j), edge in sorted(layer.symbolic.items()):
            if float(layer.mask[i, j]) == 0:
                continue
            try:
                kind = library.get(edge.name).search
            except KeyError:
                kind = "full"
            ks = _SLOTS.get(kind, (0, 1, 2, 3))
            if j in has_d:
                ks = tuple(k for k in ks if k != 3)
            has_d.add(j)
            slots.extend((l, i, j, k) for k in ks)
    return slots


class _Deadline(Exception):
    """Raised inside a least-squares residual once the deadline has passed."""


@torch.no_grad()
def _polish(model, x: torch.Tensor, y: torch.Tensor, max_nfev: int = 600,
            deadline: float | None = None) -> None:
    r"""Trust-region least squares on the free symbolic parameters (in place).

    With every edge symbolic the network has a handful of parameters, and
    least squares converges to the data's own precision in a few dozen
    iterations, where LBFGS stalls on the badly scaled directions.  Past
    ``deadline`` (a ``time.perf_counter()`` value) it stops and keeps the
    best parameters it has evaluated."""

    slots = _free_slots(model)
    params = [layer.sym_params for layer in model.layers]
    # one advanced-indexing write per layer instead of one per parameter
    where = []
    for l in range(len(params)):
        pos = [n for n, s in enumerate(slots) if s[0] == l]
        if pos:
            idx = torch.tensor([slots[n][1:] for n in pos], device=params[l].device).T
            where.append((l, np.array(pos), tuple(idx)))
    theta0 = np.array([float(params[l][i, j, k]) for l, i, j, k in slots])
    target = y.double().cpu().numpy().ravel()
    r0 = model(x).double().cpu().numpy().ravel() - target
    cost0 = float(np.sum(np.where(np.isfinite(r0), r0, 1e6) ** 2))
    best = [cost0, theta0]    # the lowest cost evaluated, kept when the deadline stops it

    def assign(theta):
        for l, pos, idx in where:
            params[l][idx] = torch.as_tensor(theta[pos], dtype=params[l].dtype,
                                             device=params[l].device)

    def resid(theta):
        if _past(deadline):
            raise _Deadline
        assign(theta)
        r = model(x).double().cpu().numpy().ravel() - target
        r = np.where(np.isfinite(r), r, 1e6)
        cost = float(np.sum(r ** 2))
        if cost < best[0]:
            best[:] = [cost, np.array(theta, dtype=float)]
        return r

    try:
        sol = least_squares_fit(resid, theta0, max_nfev=max_nfev)
        chosen = sol.x if sol.cost <= 0.5 * cost0 else theta0
    except (ValueError, np.linalg.LinAlgError):
        chosen = theta0
    except _Deadline:
        chosen = best[1]
    assign(chosen)


def _straighten(model, x: torch.Tensor, y: torch.Tensor, rmse: float, max_nfev: int,
                tol: float = 0.05, deadline: float | None = None):
    """Replace every symbolic edge that fine-tuning pushed into the straight
    part of its function (133 cos(0.0075 u + pi/2), a line in disguise) by
    the line itself, fine-tune again, and keep the result when the RMSE
    does not grow by more than ``tol``.  Returns (model, rmse, names changed)."""
    from .edgefit import _LINEAR_TOL, _project, fit_function

    trial = model.copy()
    changed = []
    with torch.no_grad():
        hs = trial.trace(x)[0]
        for l, layer in enumerate(trial.layers):
            for (i, j), edge in sorted(layer.symbolic.items()):
                if edge.name == "x" or float(layer.mask[i, j]) == 0:
                    continue
                h = hs[l][:, i].double().cpu().numpy()
                a, b, _, _ = layer.sym_params[i, j].tolist()
                u = a * h + b
                f = edge.fn(torch.from_numpy(u)).numpy()
                _, _, lin = _project(u[None, :], f)
                if not (np.isfinite(lin[0]) and 1.0 - lin[0] < _LINEAR_TOL):
                    continue
                ys = layer.edge_activations(hs[l])[:, i, j].double().cpu().numpy()
                fitted = fit_function(h, ys, library.get("x"))
                if fitted is not None:
                    layer.set_symbolic(i, j, "x", fitted.params)
                    changed.append((l, i, j, edge.name))
    if not changed:
        return model, rmse, []
    _polish(trial, x, y, max_nfev=max_nfev, deadline=deadline)
    got = _rmse(trial, x, y)
    if np.isfinite(got) and got <= rmse * (1.0 + tol) + 1e-300:
        return trial, min(got, rmse), changed
    return model, rmse, []


def _simpler_edges(model, x: torch.Tensor, y: torch.Tensor, report: SymbolicReport,
                   rmse: float, lib, weight: float, max_nfev: int, tol: float = 0.05,
                   max_trials: int = 12, deadline: float | None = None):
    """Occam pass over a fully symbolic, fine-tuned network: for each edge,
    try the simpler candidates of its fit (fitted afresh to the edge as it
    now is), fine-tune, and keep the simpler function when the network's
    RMSE does not grow by more than ``tol`` (relative).

    A function chosen for a spline's small wiggles (sin(0.15 x) where the
    network wants x, the outer function making up the difference) is
    replaced here by the simpler one that the whole formula prefers."""
    from .edgefit import fit_function

    allowed = {e.name for e in library.resolve(lib)}
    trials = 0
    for e in sorted(report.edges, key=lambda e: -(e.complexity or 0)):
        names = [f.name for f in e.candidates if f.complexity < e.complexity]
        if "x" in allowed and (e.complexity or 0) > 1:
            names.append("x")
        with torch.no_grad():     # the edge as it is now (the model changes only on accept)
            h = model.trace(x)[0][e.layer]
            ys = model.layers[e.layer].edge_activations(h)[:, e.i, e.j]
        for name in dict.fromkeys(names):
            if trials >= max_trials or _past(deadline):
                return model, rmse
            trials += 1
            fitted = fit_function(h[:, e.i].double().cpu().numpy(),
                                  ys.double().cpu().numpy(), library.get(name), weight)
            if fitted is None:
                continue
            trial = model.copy()
            trial.layers[e.layer].set_symbolic(e.i, e.j, name, fitted.params)
            _polish(trial, x, y, max_nfev=max_nfev, deadline=deadline)
            got = _rmse(trial, x, y)
            if np.isfinite(got) and got <= rmse * (1.0 + tol) + 1e-300:
                model, rmse = trial, min(got, rmse)
                e.name, e.complexity, e.r2 = name, fitted.complexity, fitted.r2
                break
    return model, rmse


def product_factor_edges(model) -> list[tuple[int, int, int]]:
    """(layer, i, j) of every live spline edge that is the only edge into a
    factor (subnode) of a multiplication node."""
    out = []
    for l, layer in enumerate(model.layers):
        owner = model.subnode_owner(l + 1)
        n_sum = model.width[l + 1][0]
        mask = layer.mask.detach().cpu().numpy()
        for j in range(mask.shape[1]):
            live = np.flatnonzero(mask[:, j] > 0)
            if owner[j] >= n_sum and len(live) == 1 and (int(live[0]), j) not in layer.symbolic:
                out.append((l, int(live[0]), j))
    return out


def linear_factors(model, X: Any, y: Any, steps: int = 20):
    r"""A copy of ``model`` whose single-edge multiplication factors are
    fixed to straight lines, the rest retrained (``steps`` LBFGS steps).

    A product :math:`g(\phi_1(x)\,\phi_2(y))` is only determined up to
    :math:`\phi_k \to \phi_k^p` (and g adapting), so training may settle on
    curved factors that no library function names (x^0.8, fitted as a
    tangent).  Fixing the factors to lines picks p = 1 and lets the rest of
    the network adapt.  Returns None when the model has no such factor."""
    from .edgefit import edge_samples, fit_function

    edges = product_factor_edges(model)
    if not edges:
        return None
    new = model.copy()
    line = library.get("x")
    for l, i, j in edges:
        xs, ys = edge_samples(new, l, i, j, X)
        fitted = fit_function(xs, ys, line)
        if fitted is None:
            return None
        new.layers[l].set_symbolic(i, j, "x", fitted.params)
    new.fit(X, y, steps=steps, update_grid=False, verbose=False)
    return new


def sparser_readings(model, X: Any, levels: int = 3):
    """Ever sparser versions of a fully symbolic ``model``: its least
    important live edge (by attribution on ``X``) is replaced by its mean
    value, and so on; yields ``(model, (layer, i, j))`` per level.

    The formulas read from these are the simpler points of a Pareto front
    (PySR's ``equations_``): the law with its weakest terms dropped and
    everything else as it was.  Stops when one live edge is left."""
    from .._validation import as_2d_array
    from ..sparsify.prune import attribution

    current = model
    xt = current.as_tensor(as_2d_array(X, "X"))
    for _ in range(levels):
        live = [(l, int(i), int(j)) for l, layer in enumerate(current.layers)
                for i, j in zip(*np.nonzero(layer.mask.detach().cpu().numpy() > 0))]
        if any((i, j) not in current.layers[l].symbolic for l, i, j in live) or len(live) <= 1:
            return
        with torch.no_grad():
            scores = attribution(current, xt).edge_scores
            l, i, j = min(live, key=lambda e: scores[e[0]][e[1], e[2]])
            h = current.trace(xt)[0][l]
            mean = current.layers[l].edge_activations(h)[:, i, j].mean()
            trial = current.copy()
            trial.layers[l].mask[i, j] = 0.0
            trial.subnode_bias[l][j] += trial.subnode_scale[l][j] * mean
        current = trial
        yield current, (l, i, j)


def auto_symbolic(model, X: Any = None, y: Any = None, *, lib: Sequence[str] | None = None,
                  r2_threshold: float = 0.99, weight: float = 0.5,
                  fine_tune_steps: int = 30, n_samples: int = 256,
                  verbose: bool = False, deadline: float | None = None):
    """Fix every spline edge whose best library fit reaches ``r2_threshold``.

    Parameters
    ----------
    model : a trained (usually pruned) :class:`~kandiscover.KAN`; not modified
    X, y : data for edge samples and fine-tuning (X alone: no fine-tuning;
        neither: the model's fit sample, no fine-tuning)
    lib : candidate function names (default: the whole library except "0")
    r2_threshold : minimum r^2 of an edge fit for the edge to be fixed
    weight : complexity weight of the ranking score (see :mod:`.edgefit`)
    fine_tune_steps : LBFGS steps on (X, y) after fixing (0: none)
    n_samples : samples per edge fit
    deadline : a ``time.perf_counter()`` value past which the least-squares
        fine-tuning of a fully symbolic network stops (keeping the best
        parameters it has evaluated) and the Occam pass tries no further
        edge; the LBFGS fine-tuning of a network with splines left runs its
        ``fine_tune_steps`` regardless.  None (default): no limit

    Returns
    -------
    (new_model, SymbolicReport)
    """
    from ..kan.train import fit
    from ..sparsify.prune import _sample

    r2_threshold = check_fraction(r2_threshold, "r2_threshold")
    fine_tune_steps = check_int(fine_tune_steps, "fine_tune_steps", 0)
    library.resolve(lib)  # unknown names fail before any work
    new = model.copy()
    x = _sample(new, X, n_max=4000)
    yt = None
    if y is not None and X is not None:
        from .._validation import check_Xy
        Xa, ya = check_Xy(X, y, n_features=new.n_inputs, n_targets=new.n_outputs)
        yt = torch.as_tensor(ya.reshape(len(ya), -1), dtype=new.dtype)
        xt = new.as_tensor(Xa)
    report = SymbolicReport([], r2_threshold)
    if yt is not None:
        report.rmse_before = _rmse(new, xt, yt)
    for l, layer in enumerate(new.layers):
        with torch.no_grad():
            h = new.trace(x)[0][l]
            acts = layer.edge_activations(h)
        mask = layer.mask.cpu().numpy()
        for i, j in zip(*np.nonzero(mask > 0)):
            i, j = int(i), int(j)
            if (i, j) in layer.symbolic:
                continue
            order = torch.argsort(h[:, i])
            idx = order[torch.linspace(0, len(order) - 1, min(n_samples, len(order))).round().long()]
            xs = h[idx, i].double().cpu().numpy()
            ys = acts[idx, i, j].double().cpu().numpy()
            fits = fit_edge(xs, ys, lib, weight)
            best = fits[0] if fits else None
            if best is not None and best.r2 >= r2_threshold:
                layer.set_symbolic(i, j, best.name, best.params)
                choice = EdgeChoice(l, i, j, best.name, best.params, best.r2,
                                    best.complexity, fits[:5])
            else:
                choice = EdgeChoice(l, i, j, "spline", None,
                                    best.r2 if best else float("nan"), None, fits[:5])
            report.edges.append(choice)
            if verbose:
                print(f"layer {l} edge {i}->{j}: "
                      + (f"{choice.name} (r2={choice.r2:.6f})" if choice.fixed
                         else f"kept as spline (best r2={choice.r2:.6f})"))
    if yt is not None:
        report.rmse_symbolic = _rmse(new, xt, yt)
        if fine_tune_steps and np.isfinite(report.rmse_symbolic):
            backup = new.copy()
            # every edge symbolic: least squares on their parameters (the
            # structure, hence this, does not change below)
            polishable = report.all_symbolic and bool(_free_slots(new))
            try:
                if polishable:
                    _polish(new, xt, yt, max_nfev=20 * fine_tune_steps, deadline=deadline)
                else:
                    fit(new, xt, yt, steps=fine_tune_steps, update_grid=False, verbose=False)
            except TrainingError:
                new = backup
            after = _rmse(new, xt, yt)
            if not np.isfinite(after) or after > report.rmse_symbolic:
                new, after = backup, report.rmse_symbolic
            if polishable:
                new, after, changed = _straighten(new, xt, yt, after,
                                                  max_nfev=min(200, 20 * fine_tune_steps),
                                                  deadline=deadline)
                for l, i, j, _ in changed:
                    for e in report.edges:
                        if (e.layer, e.i, e.j) == (l, i, j):
                            e.name, e.complexity = "x", library.get("x").complexity
            # an exact formula has nothing to gain from simpler edges
            exact = after <= _EXACT * float(yt.std()) if len(yt) > 1 else True
            if polishable and not exact:
                new, after = _simpler_edges(new, xt, yt, report, after, lib, weight,
                                            max_nfev=min(200, 20 * fine_tune_steps),
                                            deadline=deadline)
            report.rmse_after = after
    for e in report.edges:  # parameters as they are in the returned model
        if e.fixed:
            e.params = tuple(float(v) for v in new.layers[e.layer].sym_params[e.i, e.j].detach())
    return new, report

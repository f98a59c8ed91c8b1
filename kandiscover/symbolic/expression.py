r"""From a KAN (or its graph) to a sympy expression.

The graph of :func:`~kandiscover.symbolic.graph.to_graph` is read node by
node: an edge with function f and parameters (a, b, c, d) is
:math:`c\,f(a x + b) + d`; a sum node is
:math:`\sigma (\alpha \sum_e t_e + \beta) + \tau` (subnode affine map
:math:`\alpha, \beta`, node affine map :math:`\sigma, \tau`); a
multiplication node is :math:`\sigma \prod_{k=1}^{r} (\alpha_k \sum t_e + \beta_k) + \tau`
for any arity r.

Constants are then cleaned up, one at a time, keeping a change only if the
expression still matches the network (:func:`snap_constants`): each float
is tried as 0 and as the simplest nearby value among integers, small
rationals p/q (q <= 10) and a few multiples of pi, e, sqrt(2), sqrt(3)
(see :func:`simple_value`).
What is left is rounded to ``digits`` significant digits and the result is
simplified.

The expression checks itself: evaluated with numpy on held-out points (drawn
uniformly over each input's grid range, or the ``X_check`` you pass), it is
compared with the network's forward pass; :class:`ExpressionCheck` reports
the maximum relative difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import networkx as nx
import numpy as np
import sympy
import torch

from .._timelimit import call_with_limit
from ..errors import InputError, InputTypeError
from . import library
from .export import round_floats
from .graph import to_graph

__all__ = ["to_sympy", "graph_to_sympy", "snap_constants", "ExpressionCheck", "pull_scales",
           "simple_value", "max_relative_difference"]

_BASES = [(sympy.Integer(1), 1.0), (sympy.pi, np.pi), (sympy.E, np.e),
          (sympy.sqrt(2), np.sqrt(2)), (sympy.sqrt(3), np.sqrt(3)),
          (sympy.sqrt(sympy.pi), np.sqrt(np.pi)),
          (1 / sympy.sqrt(2 * sympy.pi), 1 / np.sqrt(2 * np.pi)),  # a Gaussian's norm
          (1 / sympy.pi, 1 / np.pi), (sympy.pi ** 2, np.pi ** 2)]  # h/(2 pi), pi^2


@dataclass
class ExpressionCheck:
    """How well an expression reproduces the network it was read from.

    ``max_rel_diff`` is :math:`\\max_k |e_k - m_k| / \\max(|m_k|, 10^{-6}\\,
    \\mathrm{rms}(m))` over ``n_points`` held-out points, for the returned
    (snapped, rounded, simplified) expression; ``raw_max_rel_diff`` the same
    for the expression before any constant was changed.  ``snapped`` lists
    (old value, new value) of every constant that was replaced.
    """

    max_rel_diff: float
    raw_max_rel_diff: float
    n_points: int
    snapped: list[tuple[float, sympy.Expr]] = field(default_factory=list)
    raw: sympy.Expr | list | None = None


# ------------------------------------------------------------ build
def _num(v: float) -> sympy.Expr:
    """A float as sympy: exact integers stay integers (value unchanged)."""
    if float(v).is_integer() and abs(v) < 1e9:
        return sympy.Integer(int(v))
    return sympy.Float(float(v))


def _edge_term(data: dict, x: sympy.Expr) -> sympy.Expr:
    name = data["function"]
    if name == "spline":
        raise InputError(
            f"edge {data['i']} -> {data['j']} of layer {data['layer']} is still a spline; "
            "fix it to a function first (kandiscover.auto_symbolic or model.set_symbolic)")
    try:
        entry = library.get(name)
    except KeyError as exc:
        raise InputError(exc.args[0]) from None
    a, b, c, d = (_num(p) for p in data["params"])
    return c * entry.sympy_fn(a * x + b) + d


def graph_to_sympy(g: nx.DiGraph, variables: Sequence[str] | None = None
                   ) -> list[sympy.Expr]:
    """Raw expressions (floats as fitted, nothing simplified) of every output."""
    if not isinstance(g, nx.DiGraph) or "depth" not in g.graph:
        raise InputTypeError("expected a graph made by kandiscover.to_graph")
    names = list(g.graph["variables"]) if variables is None else [str(v) for v in variables]
    if len(names) != len(g.graph["variables"]):
        raise InputError(f"variables lists {len(names)} names but the model has "
                         f"{len(g.graph['variables'])} inputs")
    value: dict[Any, sympy.Expr] = {}
    for i, name in enumerate(names):
        value[("node", 0, i)] = sympy.Symbol(name)

    def incoming(node) -> sympy.Expr:
        return sympy.Add(*[_edge_term(d, value[u]) for u, _, d in g.in_edges(node, data=True)
                           if d["kind"] == "edge"])

    for l in range(1, g.graph["depth"] + 1):
        layer_nodes = sorted((n for n, d in g.nodes(data=True) if d["layer"] == l),
                             key=lambda n: (n[0] != "sub", n[2]))
        for node in layer_nodes:  # factors first, then nodes
            d = g.nodes[node]
            if d["kind"] == "factor":
                value[node] = _num(d["sub_scale"]) * incoming(node) + _num(d["sub_bias"])
            elif d["kind"] == "sum":
                s = _num(d["sub_scale"]) * incoming(node) + _num(d["sub_bias"])
                value[node] = _num(d["scale"]) * s + _num(d["bias"])
            else:
                factors = sorted((u for u, _, e in g.in_edges(node, data=True)
                                  if e["kind"] == "factor"), key=lambda n: n[2])
                prod = sympy.Mul(*[value[u] for u in factors])
                value[node] = _num(d["scale"]) * prod + _num(d["bias"])
    L = g.graph["depth"]
    outs = sorted((n for n, d in g.nodes(data=True) if d["layer"] == L and n[0] == "node"),
                  key=lambda n: n[2])
    return [value[n] for n in outs]


# ------------------------------------------------------------ constants
def simple_value(v: float, rel_tol: float = 2e-3, max_q: int = 10) -> list[sympy.Expr]:
    """Simple numbers within ``rel_tol`` of ``v``, simplest first: integers,
    rationals p/q (q <= ``max_q``), and p/q times pi, e, sqrt(2), sqrt(3),
    sqrt(pi), 1/sqrt(2 pi), 1/pi and pi^2 with q <= 4 and |p| <= 12."""
    out: list[tuple[tuple, sympy.Expr]] = []
    if not np.isfinite(v) or v == 0:
        return []
    for q in range(1, max_q + 1):
        for rank, (sym, val) in enumerate(_BASES):
            p = round(v * q / val)
            if p == 0 or abs(p) > 1000 * q or (rank and (q > 4 or abs(p) > 12)):
                continue
            cand = p * val / q
            err = abs(cand - v) / abs(v)
            if err <= rel_tol and Fraction(p, q).denominator == q:
                out.append(((q, rank, abs(p), err), sympy.Rational(p, q) * sym))
    out.sort(key=lambda t: t[0])
    return [e for _, e in out]


def max_relative_difference(e: np.ndarray, m: np.ndarray) -> float:
    """max |e - m| / max(|m|, 1e-6 * rms(m)); inf where e is not finite."""
    e = np.asarray(e, float).reshape(m.shape)
    if not np.isfinite(e).all():
        return float("inf")
    floor = 1e-6 * max(float(np.sqrt(np.mean(m ** 2))), 1e-300)
    return float(np.max(np.abs(e - m) / np.maximum(np.abs(m), floor)))


def _nrmse(e: np.ndarray, m: np.ndarray) -> float:
    e = np.asarray(e, float).reshape(m.shape)
    if not np.isfinite(e).all():
        return float("inf")
    scale = max(float(np.std(m)), 1e-12 * max(float(np.abs(m).max()), 1e-300))
    with np.errstate(over="ignore"):      # finite but huge: inf, without a warning
        return float(np.sqrt(np.mean((e - m) ** 2)) / scale)


def _evaluator(expr: sympy.Expr, symbols: list[sympy.Symbol], consts: list[sympy.Symbol]
               ) -> Callable:
    f = sympy.lambdify([*symbols, *consts], expr, modules="numpy")

    def run(X: np.ndarray, c: Sequence[float]) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = f(*X.T, *c)
        return np.broadcast_to(np.asarray(out, float), (X.shape[0],))
    return run


def snap_constants(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray,
                   reference: np.ndarray, tol: float = 1e-4, rel_tol: float = 2e-3
                   ) -> tuple[sympy.Expr, list[tuple[float, sympy.Expr]]]:
    """Replace floats of ``expr`` by 0 or simple values, one at a time, while
    the normalized RMS difference to ``reference`` (values on the rows of
    ``X``) stays within ``tol`` of what it was.  Returns the new expression
    and the list of (old value, new value)."""
    floats = sorted(expr.atoms(sympy.Float), key=lambda f: -abs(float(f)))
    if not floats:
        return expr, []
    params = [sympy.Dummy(f"c{k}") for k in range(len(floats))]   # never a variable's name
    templ = expr.xreplace(dict(zip(floats, params)))
    run = _evaluator(templ, list(symbols), params)
    values = [float(f) for f in floats]
    base = _nrmse(run(X, values), reference)
    if not np.isfinite(base):
        return expr, []
    budget = base + tol
    chosen: dict[sympy.Symbol, sympy.Expr] = {}
    snapped = []
    current = list(values)
    for k, v in enumerate(values):
        for cand in [sympy.Integer(0), *simple_value(v, rel_tol)[:4]]:
            trial = list(current)
            trial[k] = float(cand)
            if _nrmse(run(X, trial), reference) <= budget:
                current = trial
                chosen[params[k]] = cand
                snapped.append((v, cand))
                break
    rest = {p: sympy.Float(v) for p, v in zip(params, values) if p not in chosen}
    return templ.xreplace({**chosen, **rest}), snapped


_SIMPLIFY_MAX_OPS = 40
#: Seconds each sympy rewrite (expand, simplify, cancel) may take on one expression.
SIMPLIFY_SECONDS = 5.0


def _simplify(expr: sympy.Expr) -> sympy.Expr:
    """``sympy.simplify``, kept only when it does not grow the tree.

    ``simplify`` (and even ``cancel``) can run for minutes: their exp/trig
    rewrites and polynomial gcds grow with the number of variables.  So the
    full ``simplify`` runs only up to ``_SIMPLIFY_MAX_OPS`` operations, the
    cheap rewrites (collecting rational terms and powers) up to four times
    that, and each gets at most :data:`SIMPLIFY_SECONDS` seconds (in the main
    thread); past that the expression is kept as it is."""
    ops = sympy.count_ops(expr)
    out = None
    if ops <= _SIMPLIFY_MAX_OPS:
        def full():
            best = sympy.simplify(expr)
            # sums inside tanh/sin/...: tanh(atanh(x) + atanh(y)) is (x + y)/(1 + x y);
            # hyperbolic functions of logs are rational: 1/2 - tanh(log(x y)/2)/2 is
            # 1/(1 + x y)
            hyperbolic = (sympy.tanh, sympy.sinh, sympy.cosh)
            for alt in (sympy.expand_trig(expr), expr.rewrite(hyperbolic, sympy.exp)):
                if alt != expr:
                    alt = sympy.simplify(alt)
                    if sympy.count_ops(alt) < sympy.count_ops(best) and not alt.has(sympy.I):
                        best = alt
            return best

        _, out = call_with_limit(full, SIMPLIFY_SECONDS)
    if out is None and ops <= 4 * _SIMPLIFY_MAX_OPS:
        _, out = call_with_limit(lambda: sympy.powsimp(sympy.cancel(expr)), SIMPLIFY_SECONDS)
    if out is None:
        return expr
    return out if sympy.count_ops(out) <= ops else expr


def _lead_coefficient(add: sympy.Add) -> sympy.Float | None:
    """The float coefficient of largest magnitude among the non-constant terms."""
    coefs = [t.as_coeff_Mul()[0] for t in add.args if t.free_symbols]
    coefs = [c for c in coefs if isinstance(c, sympy.Float)]
    return max(coefs, key=lambda c: abs(float(c))) if coefs else None


def pull_scales(expr: sympy.Expr) -> sympy.Expr:
    """Move float scale factors out of powers and logs (exact algebra):
    ``(0.4 + 0.4 x y)**-1 -> 2.5 (1 + x y)**-1``,
    ``sqrt(0.03 x**2 + 0.03) -> 0.173 sqrt(x**2 + 1)``,
    ``log(2.0 x + 4.0) -> log(2.0) + log(x + 2)``.  This makes the
    constants that remain meaningful, so that they can be snapped."""
    if expr.is_Atom:
        return expr
    expr = expr.func(*[pull_scales(a) for a in expr.args])
    if isinstance(expr, sympy.Pow) and isinstance(expr.base, sympy.Add) \
            and expr.exp.is_number:
        k = _lead_coefficient(expr.base)
        if k is not None and (k > 0 or expr.exp.is_integer):
            return k ** expr.exp * (expr.base / k) ** expr.exp
    if isinstance(expr, sympy.log) and isinstance(expr.args[0], sympy.Add):
        k = _lead_coefficient(expr.args[0])
        if k is not None and k > 0:
            return sympy.log(k) + sympy.log(expr.args[0] / k)
    return expr


def _expand(expr: sympy.Expr) -> sympy.Expr:
    """Multiply out products and powers of sums (also inside functions), so
    that constants combine; exponentials and logs are left as they are."""
    _, out = call_with_limit(lambda: sympy.expand(expr, power_exp=False, power_base=False,
                                                  log=False), SIMPLIFY_SECONDS)
    if out is None:
        return expr
    return out if sympy.count_ops(out) <= 3 * sympy.count_ops(expr) + 4 else expr


# ------------------------------------------------------------ public
def _check_points(model, X_check: Any, n: int, seed: int) -> torch.Tensor:
    if X_check is not None:
        return model.as_tensor(X_check, "X_check")
    g = model.layers[0].grid
    lo, hi = g[:, 0].double(), g[:, -1].double()
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, model.n_inputs, generator=gen, dtype=torch.float64)
    return (lo + (hi - lo) * u).to(model.dtype)


def to_sympy(model_or_graph, variables: Sequence[str] | None = None, *, snap: bool = True,
             simplify: bool = True, digits: int | None = 6, X_check: Any = None,
             n_check: int = 256, snap_tol: float = 1e-4, seed: int = 0,
             return_check: bool = False):
    """The formula of a KAN whose edges are all symbolic.

    Parameters
    ----------
    model_or_graph : a :class:`~kandiscover.KAN` or a graph from
        :func:`~kandiscover.to_graph` (no self-check without the model)
    variables : input names (default ``x0, x1, ...`` or the graph's)
    snap : replace constants by 0 or simple values (see :func:`snap_constants`)
        when the expression still matches the network within ``snap_tol``
        (normalized RMS difference)
    simplify : run ``sympy.simplify`` (kept only if it makes the tree smaller)
    digits : significant digits of the remaining floats (None: keep all)
    X_check : points for the self-check and snapping (default ``n_check``
        points drawn uniformly over each input's grid range with ``seed``)
    return_check : also return an :class:`ExpressionCheck`

    Returns
    -------
    A sympy expression (a list for several outputs), and the check when asked.
    """
    from ..kan.network import KAN

    model = model_or_graph if isinstance(model_or_graph, KAN) else None
    if model is not None:
        g = to_graph(model, variables=variables)
    elif isinstance(model_or_graph, nx.DiGraph):
        g = model_or_graph
    else:
        raise InputTypeError(
            f"to_sympy expects a KAN or a graph from to_graph, got {type(model_or_graph).__name__}")
    raw = graph_to_sympy(g, variables)
    symbols = [sympy.Symbol(v) for v in (variables or g.graph["variables"])]
    X = ref = None
    if model is not None:
        xt = _check_points(model, X_check, n_check, seed)
        with torch.no_grad():
            ref = model(xt).double().cpu().numpy()
        X = xt.double().cpu().numpy()
    outs, snapped_all = [], []
    for k, expr in enumerate(raw):
        e = pull_scales(_expand(expr))
        if snap and ref is not None:
            e, snapped = snap_constants(e, symbols, X, ref[:, k], tol=snap_tol)
            snapped_all.extend(snapped)
        e = round_floats(e, digits)
        if simplify:
            e = _simplify(e)
        outs.append(e)
    check = None
    if ref is not None:
        def worst(exprs):
            return max(max_relative_difference(
                _evaluator(ex, symbols, [])(X, []), ref[:, k]) for k, ex in enumerate(exprs))
        check = ExpressionCheck(worst(outs), worst(raw), len(X), snapped_all,
                                raw[0] if len(raw) == 1 else raw)
    result = outs[0] if len(outs) == 1 else outs
    return (result, check) if return_check else result

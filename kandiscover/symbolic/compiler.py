r"""The formula compiler ("kanpiler"): a sympy formula into a KAN that computes it.

The formula's expression tree maps onto KAN parts:

* a **sum** (``Add``) becomes a sum node, or the subnode of a multiplication
  node when it is a factor; its constant term is the node's bias;
* a **product** of k non-constant factors becomes a multiplication node of
  arity k, its numeric coefficient the node's scale; a quotient is a product
  with a reciprocal edge (``x/y = x * y^-1``);
* a **function** ``f(a*g + b)`` of a library function f becomes one edge
  ``c*f(a*u + b) + d`` from the node that computes g: numeric constants
  inside and outside the function are absorbed into a, b, c, d;
* a **power** ``g**p`` with a numeric exponent is an edge of the power
  function (``x^2``, ``sqrt``, ``1/x``, ``x^(2/3)``, ``x^1.5``, ...); a
  symbolic exponent is read as ``exp(p*log(g))``; ``sinh``, ``cosh`` and
  ``sign``-free forms not in the library are rewritten through ``exp``.

Every occurrence of a variable or subexpression gets its own path: two terms
of one sum that start at the same variable (``sin(5a) + cos(3a)``) never
share an edge, because the second is routed through its own node.  Paths
of different lengths are equalized with identity edges.  Every edge is
symbolic, so the network computes the formula exactly (up to rounding);
its splines are unused until an edge is released with
:meth:`~kandiscover.KAN.unfix`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import sympy
import torch

from ..errors import InputError, InputTypeError
from . import library

__all__ = ["compile_formula"]


# ------------------------------------------------------------ the tree
@dataclass(eq=False)
class _Node:
    kind: str                                  # "input", "sum" or "mult"
    var: int | None = None                     # input index
    subs: list["_Sub"] = field(default_factory=list)  # one for a sum node
    scale: float = 1.0                         # node affine: value * scale + bias
    bias: float = 0.0
    depth: int = 0


@dataclass(eq=False)
class _Sub:
    """A sum of edges plus a constant: a sum node's input, or a factor."""
    edges: list["_Edge"] = field(default_factory=list)
    bias: float = 0.0


@dataclass(eq=False)
class _Edge:
    src: _Node
    fn: str
    a: float = 1.0
    b: float = 0.0
    c: float = 1.0
    d: float = 0.0


def _num(e: sympy.Expr, where: sympy.Expr) -> float:
    try:
        v = complex(sympy.N(e, 30))
    except (TypeError, ValueError):
        raise InputError(f"cannot evaluate the constant {e} in {where}") from None
    if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)) or not np.isfinite(v.real):
        raise InputError(f"the constant {e} in {where} is not a finite real number")
    return float(v.real)


def _split_add(e: sympy.Expr) -> tuple[sympy.Expr, list[sympy.Expr]]:
    """(constant part, terms with variables) of a sum (pi + x + 2 -> (pi + 2, [x]))."""
    terms = sympy.Add.make_args(e)
    const = sympy.Add(*[t for t in terms if not t.free_symbols])
    return const, [t for t in terms if t.free_symbols]


def _split_mul(e: sympy.Expr) -> tuple[sympy.Expr, list[sympy.Expr]]:
    """(constant factor, factors with variables) of a product."""
    factors = sympy.Mul.make_args(e)
    const = sympy.Mul(*[f for f in factors if not f.free_symbols])
    return const, [f for f in factors if f.free_symbols]


def _function_names() -> dict[type, str]:
    """sympy function class -> library name, for every library function
    whose sympy form is one function applied to its argument."""
    u = sympy.Symbol("u")
    out: dict[type, str] = {}
    for name in library.names():
        try:
            e = library.get(name).sympy_fn(u)
        except Exception:  # a user function that cannot take a symbol
            continue
        if isinstance(e, sympy.Function) and e.args == (u,) and type(e) not in out:
            out[type(e)] = name
    return out


def _rewrite(expr: sympy.Expr, known: dict[type, str]) -> sympy.Expr:
    """Rewrite functions the library lacks through exp where that is exact."""
    rules = {}
    for fn in (sympy.sinh, sympy.cosh, sympy.coth, sympy.sech, sympy.csch):
        if fn not in known:
            rules[fn] = lambda *args, f=fn: f(*args).rewrite(sympy.exp)
    for fn in (sympy.sec, sympy.csc, sympy.cot):
        if fn not in known:
            rules[fn] = lambda *args, f=fn: {sympy.sec: 1 / sympy.cos(args[0]),
                                             sympy.csc: 1 / sympy.sin(args[0]),
                                             sympy.cot: 1 / sympy.tan(args[0])}[f]
    if sympy.tanh not in known:
        rules[sympy.tanh] = lambda u: (sympy.exp(2 * u) - 1) / (sympy.exp(2 * u) + 1)
    for fn, rule in rules.items():
        expr = expr.replace(fn, rule)
    return expr


class _Builder:
    def __init__(self, symbols: list[sympy.Symbol], formula: sympy.Expr):
        self.inputs = [_Node("input", var=k) for k in range(len(symbols))]
        self.index = {s: k for k, s in enumerate(symbols)}
        self.known = _function_names()
        self.formula = formula

    # a node whose value is exactly e
    def node(self, e: sympy.Expr) -> _Node:
        if e.is_Symbol:
            return self.inputs[self.index[e]]
        if e.is_Mul:
            coeff, factors = _split_mul(e)
            if len(factors) >= 2:
                n = _Node("mult", scale=_num(coeff, self.formula))
                for f in factors:
                    sub = _Sub()
                    self.attach(sub, f)
                    n.subs.append(sub)
                return n
        n = _Node("sum", subs=[_Sub()])
        self.attach(n.subs[0], e)
        return n

    # add e (a sum of terms) to a subnode
    def attach(self, sub: _Sub, e: sympy.Expr) -> None:
        const, terms = _split_add(e)
        sub.bias += _num(const, self.formula)
        for t in terms:
            coeff, factors = _split_mul(t)
            edge = self.edge(sympy.Mul(*factors))
            edge.c *= _num(coeff, self.formula)
            sub.edges.append(edge)

    # one edge whose value is exactly e (no numeric coefficient in front)
    def edge(self, e: sympy.Expr) -> _Edge:
        if e.is_Symbol:
            return _Edge(self.inputs[self.index[e]], "x")
        if e.is_Pow:
            base, p = e.args
            if base == sympy.E:
                return self.apply("exp", p)
            if not p.free_symbols:
                return self.apply(library.power_name(self._exponent(p)), base)
            return self.apply("exp", p * sympy.log(base))   # g**h = exp(h log g)
        if isinstance(e, sympy.Function):
            name = self.known.get(type(e))
            if name is None or len(e.args) != 1:
                raise InputError(
                    f"{e.func} in {self.formula} is not in the function library; supported: "
                    + ", ".join(sorted(set(self.known.values())))
                    + ", powers (x**p for any number p), sinh/cosh (through exp); "
                    "register others with kandiscover.symbolic.library.register")
            return self.apply(name, e.args[0])
        if e.is_Add or e.is_Mul:
            return _Edge(self.node(e), "x")
        raise InputError(f"cannot compile {e} (a {type(e).__name__}) in {self.formula}")

    def _exponent(self, p: sympy.Expr):
        return p if p.is_Rational else _num(p, self.formula)

    # f(a*g + b): an edge of f from the node of g
    def apply(self, fn: str, arg: sympy.Expr) -> _Edge:
        b, terms = _split_add(arg)
        if len(terms) == 1:
            a, factors = _split_mul(terms[0])
            g = sympy.Mul(*factors)
        else:
            a, g = sympy.Integer(1), sympy.Add(*terms)
        if not g.free_symbols:
            raise InputError(f"cannot compile {arg} in {self.formula}: no variable")
        return _Edge(self.node(g), fn, a=_num(a, self.formula), b=_num(b, self.formula))


# --------------------------------------------------------- arrangement
def _all_edges(n: _Node):
    for sub in n.subs:
        yield from ((sub, e) for e in sub.edges)


def _separate_shared_sources(root: _Node) -> None:
    """Two edges of one subnode from the same node would be one KAN edge:
    route all but the first through a node of their own."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if id(n) in seen or n.kind == "input":
            continue
        seen.add(id(n))
        for sub in n.subs:
            used: set[int] = set()
            for k, e in enumerate(sub.edges):
                if id(e.src) in used:
                    mid = _Node("sum", subs=[_Sub([_Edge(e.src, e.fn, e.a, e.b)])])
                    sub.edges[k] = _Edge(mid, "x", c=e.c, d=e.d)
                used.add(id(sub.edges[k].src))
                stack.append(sub.edges[k].src)


def _assign_depths(root: _Node) -> list[_Node]:
    """Depth = 1 + deepest source; returns the non-input nodes, sources first."""
    order: list[_Node] = []
    done: set[int] = set()

    def visit(n: _Node) -> int:
        if n.kind == "input":
            return 0
        if id(n) not in done:
            n.depth = 1 + max(visit(e.src) for _, e in _all_edges(n))
            done.add(id(n))
            order.append(n)
        return n.depth

    visit(root)       # depth is bounded by the parser's nesting limit
    return order


def _equalize(nodes: list[_Node]) -> list[_Node]:
    """Insert identity nodes so that every edge spans exactly one layer."""
    extra = []
    for n in nodes:
        for sub in n.subs:
            for k, e in enumerate(sub.edges):
                gap = n.depth - e.src.depth
                if gap <= 1:
                    continue
                # the function on the first hop, identities after it
                prev = _Node("sum", subs=[_Sub([_Edge(e.src, e.fn, e.a, e.b)])],
                             depth=e.src.depth + 1)
                extra.append(prev)
                for d in range(e.src.depth + 2, n.depth):
                    nxt = _Node("sum", subs=[_Sub([_Edge(prev, "x")])], depth=d)
                    extra.append(nxt)
                    prev = nxt
                sub.edges[k] = _Edge(prev, "x", c=e.c, d=e.d)
    return nodes + extra


# ------------------------------------------------------------ public
def compile_formula(formula: Any, variables: Sequence[str] | None = None, *,
                    ranges: Mapping[str, tuple[float, float]] | None = None,
                    grid: int = 5, k: int = 3, seed: int = 0,
                    dtype: torch.dtype | str = torch.float64):
    """Build a :class:`~kandiscover.KAN` whose forward pass computes ``formula``.

    Parameters
    ----------
    formula : str or sympy expression
        Text is read with :func:`~kandiscover.parse_formula` (safely).
    variables : list of str
        The inputs, in column order; default: the formula's names, sorted.
        Every name in the formula must be listed; extra names become inputs
        without edges.
    ranges : {name: (low, high)}, optional
        Where each variable lives: the first layer's spline grids span these
        intervals, and the deeper layers' grids span the values the network
        computes on them (for releasing edges into splines later).
    grid, k, seed, dtype : as for :class:`~kandiscover.KAN`
        (float64 by default: compiled networks are meant to be exact).

    Returns
    -------
    KAN with every live edge symbolic; ``model.formula_`` holds the
    expression it was compiled from.
    """
    from ..kan.network import KAN
    from .parse import parse_formula

    expr, symbols = _prepare(formula, variables, parse_formula)
    b = _Builder(symbols, expr)
    expr = _rewrite(expr, b.known)
    root = b.node(expr) if expr.free_symbols else None
    if root is None:
        raise InputError(f"the formula {formula!r} has no variables")
    if root.kind == "input":              # the formula is one variable
        root = _Node("sum", subs=[_Sub([_Edge(root, "x")])])
    _separate_shared_sources(root)
    nodes = _equalize(_assign_depths(root))
    depth = root.depth

    layers: list[list[_Node]] = [list(b.inputs)] + [[] for _ in range(depth)]
    for n in nodes:
        layers[n.depth].append(n)
    for l in range(1, depth + 1):      # sum nodes first, then multiplication nodes
        layers[l].sort(key=lambda n: n.kind == "mult")
    width = [len(symbols)] + [(sum(n.kind == "sum" for n in ns), sum(n.kind == "mult" for n in ns))
                              for ns in layers[1:]]
    arity = [[]] + [[len(n.subs) for n in ns if n.kind == "mult"] for ns in layers[1:]]
    model = KAN(width, grid=grid, k=k, mult_arity=arity, seed=seed, dtype=dtype)

    position = {id(n): i for ns in layers for i, n in enumerate(ns)}
    with torch.no_grad():
        for l in range(depth):
            layer = model.layers[l]
            layer.mask.zero_()
            n_sum = width[l + 1][0]
            sub_index = n_sum
            for pos, n in enumerate(layers[l + 1]):
                if n.kind == "sum":
                    targets = [pos]
                else:
                    targets = list(range(sub_index, sub_index + len(n.subs)))
                    sub_index += len(n.subs)
                for j, sub in zip(targets, n.subs):
                    model.subnode_bias[l][j] = sub.bias
                    for e in sub.edges:
                        i = position[id(e.src)]
                        layer.mask[i, j] = 1.0
                        layer.set_symbolic(i, j, e.fn, (e.a, e.b, e.c, e.d))
                model.node_scale[l][pos] = n.scale
                model.node_bias[l][pos] = n.bias
    if ranges is not None:
        _set_grids(model, symbols, ranges)
    model.formula_ = expr
    return model


def _prepare(formula, variables, parse_formula):
    if isinstance(formula, str):
        expr = parse_formula(formula, variables)
    elif isinstance(formula, sympy.Expr):
        expr = formula
    else:
        raise InputTypeError(f"formula must be a str or a sympy expression, got "
                             f"{type(formula).__name__}")
    free = expr.free_symbols
    if variables is None:
        symbols = sorted(free, key=lambda s: s.name)
    else:
        if isinstance(variables, str) or not all(isinstance(v, str) for v in variables):
            raise InputTypeError(f"variables must be a list of names, got {variables!r}")
        if len(set(variables)) != len(variables):
            raise InputError(f"variables lists a name twice: {list(variables)}")
        # by name: a formula's symbols may carry assumptions (positive=True)
        by_name = {s.name: s for s in free}
        symbols = [by_name.get(v, sympy.Symbol(v)) for v in variables]
        missing = sorted(s.name for s in free if s.name not in set(variables))
        if missing:
            raise InputError(f"the formula uses {', '.join(missing)}, which variables "
                             f"({', '.join(variables)}) does not list; add them")
    if not free:
        raise InputError(f"the formula {formula!s} has no variables; there is nothing "
                         "for a network to compute")
    if expr.has(sympy.I) or expr.has(sympy.zoo, sympy.oo, sympy.nan):
        raise InputError(f"the formula {expr} is not a finite real expression")
    return expr, symbols


@torch.no_grad()
def _set_grids(model, symbols, ranges) -> None:
    """Grids over the given input ranges, and over the values each deeper
    layer sees on a sweep of those ranges."""
    names = [s.name for s in symbols]
    unknown = sorted(set(ranges) - set(names))
    if unknown:
        raise InputError(f"ranges names {', '.join(unknown)}, which are not variables")
    lo = np.array([float(ranges.get(n, (-1.0, 1.0))[0]) for n in names])
    hi = np.array([float(ranges.get(n, (-1.0, 1.0))[1]) for n in names])
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (lo < hi).all()):
        raise InputError(f"ranges must be finite (low, high) pairs with low < high, got "
                         f"{dict(ranges)}")
    rng = np.random.default_rng(0)
    X = lo + (hi - lo) * rng.random((2048, len(names)))
    x = model.as_tensor(X)
    for l, layer in enumerate(model.layers):
        xs = x[torch.isfinite(x).all(1)]
        if len(xs) >= 2:
            a, b = xs.min(0).values, xs.max(0).values
            span = (b - a).clamp_min(1e-3)
            steps = torch.linspace(0, 1, layer.num_grid + 1, dtype=x.dtype)
            layer.set_grid(a[:, None] + span[:, None] * steps[None, :])
        x = model._nodes_from_subnodes(l, layer(x))

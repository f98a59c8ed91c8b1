"""A KAN's pruned structure as a ``networkx.DiGraph``.

The graph is the one object that expression building, plots and reports
read.  Its nodes are keyed by tuples:

``("node", l, i)``
    node ``i`` of node layer ``l`` (``l = 0`` are the inputs, ``l = depth``
    the outputs).  Attributes: ``kind`` ("input", "sum" or "mult"),
    ``layer``, ``index``, ``name`` (variable name for inputs, ``y0``... for
    outputs, ``None`` otherwise), ``output`` (bool), ``scale`` and ``bias``
    (the node affine map), and for "sum" nodes ``sub_scale``/``sub_bias``
    (the affine map of the node's single subnode), for "mult" nodes
    ``arity``.
``("sub", l, j)``
    subnode ``j`` of layer ``l`` feeding a multiplication node: ``kind``
    "factor", ``sub_scale``, ``sub_bias``; one edge of kind "factor" leads
    to its multiplication node.

Every live KAN edge (i -> j) of layer ``l`` is a graph edge from
``("node", l, i)`` to the node or factor it feeds, with ``kind`` "edge",
``layer``, ``i``, ``j`` (the subnode index), ``function`` (a library name or
``"spline"``), ``params`` (a, b, c, d as floats; ``None`` for splines) and
``importance`` (the KAN 2.0 attribution score when data are available).
Graph attributes: ``variables``, ``outputs``, ``depth``.
"""

from __future__ import annotations

from typing import Any, Sequence

import networkx as nx
import numpy as np

from ..errors import InputError, InputTypeError

__all__ = ["to_graph", "default_names"]


def default_names(n: int, prefix: str = "x") -> list[str]:
    """``x0, x1, ...``"""
    return [f"{prefix}{i}" for i in range(n)]


def _check_names(names: Sequence[str] | None, n: int, what: str) -> list[str]:
    if names is None:
        return default_names(n, "x" if what == "variables" else "y")
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InputTypeError(f"{what} must be a list of names, got {names!r}")
    names = [str(v) for v in names]
    if len(names) != n:
        raise InputError(f"{what} lists {len(names)} names but the model has {n} "
                         f"{'inputs' if what == 'variables' else 'outputs'}")
    if len(set(names)) != len(names):
        raise InputError(f"{what} contains repeated names: {names}")
    return names


def to_graph(model, X: Any = None, variables: Sequence[str] | None = None,
             outputs: Sequence[str] | None = None) -> nx.DiGraph:
    """The pruned structure of ``model`` as a ``networkx.DiGraph`` (see the
    module docstring).  Edge importances come from
    :func:`kandiscover.attribution` on ``X`` (default: the model's fit
    sample); without data they are ``None``."""
    from ..kan.network import KAN

    if not isinstance(model, KAN):
        raise InputTypeError(f"to_graph expects a kandiscover.KAN, got {type(model).__name__}")
    variables = _check_names(variables, model.n_inputs, "variables")
    outputs = _check_names(outputs, model.n_outputs, "outputs")
    importance = None
    if X is not None or model.fit_sample_ is not None:
        importance = model.attribution(X).edge_scores
    L = model.depth
    g = nx.DiGraph(variables=variables, outputs=outputs, depth=L)
    for i, v in enumerate(variables):
        g.add_node(("node", 0, i), kind="input", layer=0, index=i, name=v, output=False,
                   scale=1.0, bias=0.0)
    for l in range(1, L + 1):
        n_sum = model.width[l][0]
        scale = model.node_scale[l - 1].detach().double().cpu().numpy()
        bias = model.node_bias[l - 1].detach().double().cpu().numpy()
        sub_s = model.subnode_scale[l - 1].detach().double().cpu().numpy()
        sub_b = model.subnode_bias[l - 1].detach().double().cpu().numpy()
        owner = model.subnode_owner(l)
        for n in range(sum(model.width[l])):
            attrs = dict(layer=l, index=n, output=l == L, scale=float(scale[n]),
                         bias=float(bias[n]), name=outputs[n] if l == L else None)
            if n < n_sum:
                attrs.update(kind="sum", sub_scale=float(sub_s[n]), sub_bias=float(sub_b[n]))
            else:
                attrs.update(kind="mult", arity=owner.count(n))
            g.add_node(("node", l, n), **attrs)
        for j, n in enumerate(owner):
            if n >= n_sum:
                g.add_node(("sub", l, j), kind="factor", layer=l, index=j,
                           sub_scale=float(sub_s[j]), sub_bias=float(sub_b[j]))
                g.add_edge(("sub", l, j), ("node", l, n), kind="factor")
        layer = model.layers[l - 1]
        mask = layer.mask.detach().cpu().numpy()
        params = layer.sym_params.detach().double().cpu().numpy()
        for i, j in zip(*np.nonzero(mask > 0)):
            i, j = int(i), int(j)
            target = ("node", l, owner[j]) if owner[j] < n_sum else ("sub", l, j)
            sym = layer.symbolic.get((i, j))
            g.add_edge(("node", l - 1, i), target, kind="edge", layer=l - 1, i=i, j=j,
                       function=sym.name if sym else "spline",
                       params=tuple(float(p) for p in params[i, j]) if sym else None,
                       importance=None if importance is None
                       else float(importance[l - 1][i, j]))
    return g

"""Growing a KAN without changing what it computes: more nodes in a hidden
layer (:func:`expand_width`) or one more layer (:func:`expand_depth`).

Both return a new model whose output equals the old one's at the moment of
expansion: the new capacity is spline edges whose contribution starts at
zero (outgoing coefficients and SiLU weights 0), so training can grow it
into whatever the old structure (for example a compiled formula) misses.
"""

from __future__ import annotations

import torch

from .._validation import check_int
from ..errors import InputError

__all__ = ["expand_width", "expand_depth"]


@torch.no_grad()
def _copy_layer(old, new, in_map: dict[int, int], out_map: dict[int, int]) -> None:
    """Copy every edge (i, j) of ``old`` to (in_map[i], out_map[j]) of ``new``."""
    ii = torch.tensor(sorted(in_map))
    jj = torch.tensor(sorted(out_map))
    ni = torch.tensor([in_map[i] for i in sorted(in_map)])
    nj = torch.tensor([out_map[j] for j in sorted(out_map)])
    if old.num_grid != new.num_grid or old.k != new.k:
        raise InputError("layers with different grids cannot be copied")
    new.grid[ni] = old.grid[ii].to(new.grid.dtype)
    new.set_grid(new.grid)
    for name in ("coef", "scale_base", "scale_sp", "mask", "sym_mask", "sym_params"):
        src = getattr(old, name)[ii][:, jj]
        getattr(new, name)[ni[:, None], nj[None, :]] = src.to(getattr(new, name).dtype)
    new.symbolic = {(in_map[i], out_map[j]): e for (i, j), e in old.symbolic.items()}
    new._rebuild_groups()


def _node_maps(width_old, width_new, arity_old) -> tuple[dict[int, int], dict[int, int]]:
    """Old -> new node and subnode indices of one node layer when sum nodes
    are added after the old sum nodes and mult nodes after the old mult nodes."""
    s_old, m_old = width_old
    s_new = width_new[0]
    nodes = {n: (n if n < s_old else n + s_new - s_old) for n in range(s_old + m_old)}
    n_sub_old = s_old + sum(arity_old)
    subs = {s: (s if s < s_old else s + s_new - s_old) for s in range(n_sub_old)}
    return nodes, subs


def _zero_out(layer, rows) -> None:
    """Edges leaving the new nodes start at zero (and stay trainable)."""
    with torch.no_grad():
        for i in rows:
            layer.coef[i] = 0.0
            layer.scale_base[i] = 0.0
            layer.mask[i] = 1.0
            layer.sym_mask[i] = 0.0


def expand_width(model, layer: int, n_sum: int = 0, n_mult: int = 0, mult_arity: int = 2,
                 seed: int | None = None):
    """A copy of ``model`` with ``n_sum`` sum and ``n_mult`` multiplication
    nodes (arity ``mult_arity``) added to hidden node layer ``layer``
    (1 .. depth - 1).  Their incoming edges are fresh splines from every
    node of the layer below; their outgoing edges start at zero."""
    from .network import KAN

    depth = model.depth
    layer = check_int(layer, "layer", 1)
    if layer >= depth:
        raise InputError(f"layer must be a hidden node layer, 1 to {depth - 1}, got {layer}; "
                         "use expand_depth first to add one")
    n_sum = check_int(n_sum, "n_sum", 0)
    n_mult = check_int(n_mult, "n_mult", 0)
    if n_sum + n_mult == 0:
        raise InputError("expand_width needs n_sum or n_mult > 0")
    arity = check_int(mult_arity, "mult_arity", 2)
    width = [tuple(w) for w in model.width]
    arities = [list(a) for a in model.mult_arity]
    width[layer] = (width[layer][0] + n_sum, width[layer][1] + n_mult)
    arities[layer] = arities[layer] + [arity] * n_mult
    cfg = dict(model.config, width=width, mult_arity=arities,
               seed=model.seed if seed is None else seed)
    new = KAN(**cfg)
    nodes, subs = _node_maps(model.width[layer], width[layer], model.mult_arity[layer])
    for l in range(depth):
        n_in_old = sum(model.width[l])
        n_sub_old = model.layers[l].n_out
        in_map = nodes if l == layer else {i: i for i in range(n_in_old)}
        out_map = subs if l + 1 == layer else {j: j for j in range(n_sub_old)}
        _copy_layer(model.layers[l], new.layers[l], in_map, out_map)
        # edges into the new subnodes keep the fresh initialisation
        if l == layer:
            _zero_out(new.layers[l], sorted(set(range(new.layers[l].n_in)) - set(nodes.values())))
    with torch.no_grad():
        for l in range(depth):
            nmap = nodes if l + 1 == layer else {n: n for n in range(sum(model.width[l + 1]))}
            smap = subs if l + 1 == layer else {s: s for s in range(model.layers[l].n_out)}
            for plist_old, plist_new, m in ((model.node_scale, new.node_scale, nmap),
                                            (model.node_bias, new.node_bias, nmap),
                                            (model.subnode_scale, new.subnode_scale, smap),
                                            (model.subnode_bias, new.subnode_bias, smap)):
                for a, b in m.items():
                    plist_new[l][b] = plist_old[l][a]
    new.fit_sample_ = model.fit_sample_
    return new


def expand_depth(model):
    """A copy of ``model`` with one more layer at the end: every old output
    feeds its new output through an exact identity edge (symbolic ``x``);
    the other new edges are splines that start at zero."""
    from .network import KAN

    n_out = model.n_outputs
    width = [tuple(w) for w in model.width] + [(n_out, 0)]
    arities = [list(a) for a in model.mult_arity] + [[]]
    new = KAN(**dict(model.config, width=width, mult_arity=arities))
    for l in range(model.depth):
        ident_in = {i: i for i in range(sum(model.width[l]))}
        ident_out = {j: j for j in range(model.layers[l].n_out)}
        _copy_layer(model.layers[l], new.layers[l], ident_in, ident_out)
    with torch.no_grad():
        for l in range(model.depth):
            for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"):
                getattr(new, name)[l].copy_(getattr(model, name)[l])
        last = new.layers[-1]
        _zero_out(last, range(n_out))
        for j in range(n_out):
            last.set_symbolic(j, j, "x", (1.0, 0.0, 1.0, 0.0))
    new.fit_sample_ = model.fit_sample_
    return new

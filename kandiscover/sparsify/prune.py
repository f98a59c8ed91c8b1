r"""Attribution scores and pruning (KAN 2.0).

Scores are propagated backwards from the outputs.  Every output node has
score 1.  A node's score is passed to its subnodes (a multiplication node
passes its full score to each factor).  Edge :math:`(i \to j)` of layer
:math:`l` gets the score of subnode :math:`j` in proportion to its share of
the subnode's activation scale,

.. math::
    E^{(l)}_{ij} = S^{(l+1)}_j \,
        \frac{\sigma(\phi_{ij})}{\sigma(s_j) + \varepsilon},

where :math:`\sigma` is the standard deviation over the samples and
:math:`s_j = \sum_i \phi_{ij}` the raw subnode value; a node's score is the
sum of its outgoing edges' scores, :math:`N^{(l)}_i = \sum_j E^{(l)}_{ij}`.
The input nodes' scores rank the input variables.  The constant
:math:`\varepsilon` is relative, ``eps`` times the largest subnode scale of
the layer, so the scores do not depend on the units of the data.

Pruning replaces every edge it removes (masked, or leaving a removed node)
by its mean activation on the samples, added to the bias of the subnode it
fed: what is cut is the edge's variation, not its level.  Without this a
product whose factor has only near-constant edges would become 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_fraction
from ..errors import InputError, PruningError

__all__ = ["Attribution", "attribution", "prune", "PruneReport"]


@dataclass
class Attribution:
    """Importance scores: ``edge_scores[l]`` is (n_in, n_out) for layer l,
    ``node_scores[l]`` has one entry per node of node layer l (0 = inputs),
    ``edge_scales[l]`` and ``edge_means[l]`` the standard deviation and the
    mean of every edge's activation on the samples."""

    edge_scores: list[np.ndarray]
    node_scores: list[np.ndarray]
    edge_scales: list[np.ndarray]
    edge_means: list[np.ndarray]

    @property
    def input_scores(self) -> np.ndarray:
        return self.node_scores[0]


def _sample(model, X: Any, n_max: int = 1000) -> torch.Tensor:
    if X is None:
        if model.fit_sample_ is None:
            raise InputError("no data to score the model on: pass X (the model has not "
                             "been fitted in this session)")
        return model.fit_sample_
    x = model.as_tensor(X)
    if len(x) > n_max:  # an evenly spread subsample, not the first rows
        x = x[torch.linspace(0, len(x) - 1, n_max).round().long()]
    return x


@torch.no_grad()
def attribution(model, X: Any = None, eps: float = 1e-4) -> Attribution:
    """Edge, node and input importance of ``model`` on samples ``X``
    (default: the subsample kept from the last ``fit``)."""
    x = _sample(model, X)
    nodes, subs = model.trace(x)
    acts = [layer.edge_activations(h) for layer, h in zip(model.layers, nodes[:-1])]
    scales = [a.std(0, unbiased=False) for a in acts]
    node_score = torch.ones(model.n_outputs, dtype=x.dtype, device=x.device)
    node_scores, edge_scores = [node_score], []
    for l in range(model.depth - 1, -1, -1):
        owner = torch.tensor(model.subnode_owner(l + 1), device=x.device)
        sub_score = node_score[owner]
        sub_scale = subs[l].std(0, unbiased=False)
        floor = eps * sub_scale.max().clamp_min(torch.finfo(x.dtype).tiny)
        e = scales[l] * (sub_score / (sub_scale + floor))[None, :]
        edge_scores.insert(0, e)
        node_score = e.sum(1)
        node_scores.insert(0, node_score)
    to_np = lambda ts: [t.cpu().double().numpy() for t in ts]  # noqa: E731
    return Attribution(to_np(edge_scores), to_np(node_scores), to_np(scales),
                       to_np([a.mean(0) for a in acts]))


@dataclass
class PruneReport:
    """What pruning removed and the scores it decided on."""

    width_before: list
    width_after: list
    removed_nodes: list[tuple[int, int, float]] = field(default_factory=list)
    removed_edges: list[tuple[int, int, int, float]] = field(default_factory=list)
    kept_nodes: list[list[int]] = field(default_factory=list)
    scores: Attribution | None = None

    def __str__(self) -> str:
        lines = [f"pruned {self.width_before} -> {self.width_after}: "
                 f"{len(self.removed_nodes)} hidden nodes and "
                 f"{len(self.removed_edges)} edges removed"]
        for l, i, s in self.removed_nodes:
            lines.append(f"  node ({l}, {i}) score {s:.3g}")
        for l, i, j, s in self.removed_edges:
            lines.append(f"  edge layer {l}: {i} -> {j} score {s:.3g}")
        return "\n".join(lines)


def prune(model, X: Any = None, node_threshold: float = 1e-2,
          edge_threshold: float = 3e-2):
    """Return ``(pruned_model, report)``; ``model`` itself is unchanged.

    Hidden nodes with score below ``node_threshold`` are removed, then edges
    with score below ``edge_threshold`` are masked, then hidden nodes left
    without an incoming or outgoing live edge are removed (repeatedly).
    Input and output nodes are kept.  Raises :class:`PruningError` (showing
    the scores) if an output would lose every path from the inputs.
    """
    node_threshold = check_fraction(node_threshold, "node_threshold")
    edge_threshold = check_fraction(edge_threshold, "edge_threshold")
    att = attribution(model, X)
    L = model.depth
    owners = [None] + [np.array(model.subnode_owner(l)) for l in range(1, L + 1)]
    keep = [np.ones(sum(w), bool) for w in model.width]
    removed_nodes: list[tuple[int, int, float]] = []
    for l in range(1, L):
        for i, s in enumerate(att.node_scores[l]):
            if s < node_threshold:
                keep[l][i] = False
    live = [(layer.mask.cpu().numpy() > 0) & (att.edge_scores[l] >= edge_threshold)
            for l, layer in enumerate(model.layers)]
    removed_edges = [(l, int(i), int(j), float(att.edge_scores[l][i, j]))
                     for l, layer in enumerate(model.layers)
                     for i, j in zip(*np.nonzero((layer.mask.cpu().numpy() > 0) & ~live[l]))]
    changed = True
    while changed:
        changed = False
        for l in range(L + 1):
            for i in np.nonzero(keep[l])[0]:
                has_in = True if l == 0 else bool(
                    live[l - 1][keep[l - 1]][:, owners[l] == i].any())
                has_out = True if l == L else bool(
                    live[l][i][keep[l + 1][owners[l + 1]]].any())
                if 0 < l < L and not (has_in and has_out):
                    keep[l][i] = False
                    changed = True
    for l in range(1, L):
        for i in np.nonzero(~keep[l])[0]:
            removed_nodes.append((l, int(i), float(att.node_scores[l][i])))
    # an output must still be reachable from some input
    reach = np.ones(model.n_inputs, bool)
    for l in range(L):
        sub_live = live[l][reach & keep[l]].any(0)
        nxt = np.zeros(len(keep[l + 1]), bool)
        for n in range(len(nxt)):
            nxt[n] = keep[l + 1][n] and bool(sub_live[owners[l + 1] == n].any())
        reach = nxt
    if not reach.all():
        lost = [int(i) for i in np.nonzero(~reach)[0]]
        scores = "\n".join(f"  layer {l} edge scores:\n{np.array2string(e, precision=4)}"
                           for l, e in enumerate(att.edge_scores))
        raise PruningError(
            f"pruning with node_threshold={node_threshold}, edge_threshold={edge_threshold} "
            f"would cut every path to output(s) {lost}; lower the thresholds. "
            f"Node scores: {[np.round(s, 4).tolist() for s in att.node_scores]}\n{scores}")
    new = _extract(model, keep, live, att.edge_means)
    report = PruneReport(model.width_spec, new.width_spec, removed_nodes,
                         removed_edges, [np.nonzero(k)[0].tolist() for k in keep], att)
    return new, report


@torch.no_grad()
def _extract(model, keep: list[np.ndarray], live: list[np.ndarray],
             means: list[np.ndarray]):
    """Build the smaller model holding the kept nodes and live edges; each
    removed edge's mean activation (``means``) goes into its subnode's bias."""
    from ..kan.network import KAN

    width, arity = [], []
    for l, w in enumerate(model.width):
        n_sum = w[0]
        k = keep[l]
        arity.append([a for m, a in enumerate(model.mult_arity[l]) if k[n_sum + m]])
        width.append((int(k[:n_sum].sum()), int(k[n_sum:].sum())))
    cfg = dict(model.config, width=width, mult_arity=arity)
    new = KAN(**cfg)
    for l, (old, lay) in enumerate(zip(model.layers, new.layers)):
        rows = torch.tensor(np.nonzero(keep[l])[0])
        owner = np.array(model.subnode_owner(l + 1))
        cols = torch.tensor(np.nonzero(keep[l + 1][owner])[0])
        lay.set_grid(old.grid[rows])
        for name in ("coef", "scale_base", "scale_sp", "sym_params", "mask", "sym_mask"):
            getattr(lay, name).copy_(getattr(old, name)[rows][:, cols])
        lay.mask.mul_(torch.as_tensor(live[l][np.ix_(rows.numpy(), cols.numpy())],
                                      dtype=lay.mask.dtype))
        rmap = {int(r): a for a, r in enumerate(rows)}
        cmap = {int(c): b for b, c in enumerate(cols)}
        lay.symbolic = {(rmap[i], cmap[j]): e for (i, j), e in old.symbolic.items()
                        if i in rmap and j in cmap}
        lay._rebuild_groups()
        nodes = torch.tensor(np.nonzero(keep[l + 1])[0])
        for plist, idx in ((("subnode_scale", "subnode_bias"), cols),
                           (("node_scale", "node_bias"), nodes)):
            for pname in plist:
                getattr(new, pname)[l].copy_(getattr(model, pname)[l][idx])
        was_live = old.mask.cpu().numpy() > 0
        cut = was_live & ~(live[l] & keep[l][:, None])
        lost = torch.as_tensor((means[l] * cut).sum(0)[cols.numpy()], dtype=lay.coef.dtype)
        new.subnode_bias[l].add_(new.subnode_scale[l] * lost.to(lay.coef.device))
    new.fit_sample_ = model.fit_sample_
    return new

r"""Network diagrams of a KAN.

Node layers are drawn as rows, inputs at the bottom and outputs at the top.
Between two rows sits a band of small boxes, one per live edge, each showing
the edge's learned function :math:`\phi_{ij}` over the range its input takes
(on the data when there is data, on the layer's grid otherwise).  A line runs
from the source node to the bottom of the box and from the top of the box to
the destination node (or subnode, for multiplication nodes).  Opacity follows
the edge's attribution score, normalised per layer,

.. math::
    \alpha_{ij} = \mathrm{clip}\bigl(E_{ij} / \max_{i'j'} E_{i'j'},\ 0.1,\ 1\bigr).

Symbolic edges are red and labelled ``c*f(a*x+b)+d``; pruned edges are omitted.
Layers too dense for boxes (box pitch below ~0.12 in) are drawn as plain lines.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .errors import InputError

__all__ = ["plot"]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_SPLINE, _SYMBOLIC = np.array([0.10, 0.20, 0.45]), np.array([0.80, 0.08, 0.10])
_MIN_PITCH = 0.12           # inches per box below which a layer is drawn as lines
_MAX_SAMPLE = 4000          # rows of X used to find each node's range


@dataclass
class _Layout:
    """Geometry in inches (the axes' data coordinates)."""
    width: float
    height: float = 0.0
    node_x: list[np.ndarray] = field(default_factory=list)
    node_y: list[float] = field(default_factory=list)
    sub_x: list[np.ndarray] = field(default_factory=list)   # per edge layer (destinations)
    sub_y: list[float] = field(default_factory=list)
    box_y: list[float] = field(default_factory=list)        # box centres (NaN: no boxes)
    box_wh: list[tuple[float, float]] = field(default_factory=list)
    edges: list[list[tuple[int, int]]] = field(default_factory=list)


def _sample(model, X: Any) -> torch.Tensor | None:
    """The data to plot on: ``X``, else the model's fit sample, else None."""
    x = model.as_tensor(X) if X is not None else model.fit_sample_
    if x is not None and x.shape[0] > _MAX_SAMPLE:
        x = x[:: -(-x.shape[0] // _MAX_SAMPLE)]
    return x


def _alphas(model, x: torch.Tensor | None) -> list[np.ndarray]:
    """Per-layer (n_in, n_out) opacities from attribution (all 1 without data)."""
    ones = [np.ones((lay.n_in, lay.n_out)) for lay in model.layers]
    if x is None:
        return ones
    scores = model.attribution(x).edge_scores
    out = []
    for s, lay in zip(scores, model.layers):
        s = np.where(lay.mask.detach().cpu().numpy() > 0, np.nan_to_num(s), 0.0)
        top = s.max() if s.size else 0.0
        out.append(np.clip(s / top, 0.1, 1.0) if top > 0 else np.ones_like(s))
    return out


def _curves(model, x: torch.Tensor | None, n_points: int, layers: Sequence[int]):
    """For each layer in ``layers``: (sweep (n_points, n_in), acts (n_points, n_in, n_out)).

    Layer l's inputs are swept uniformly over their range on the data (from
    :meth:`KAN.trace`) or, without data, over the layer's grid.
    """
    nodes = model.trace(x)[0] if x is not None else None
    out = {}
    for l in layers:
        lay = model.layers[l]
        if nodes is not None:
            lo, hi = nodes[l].min(0).values, nodes[l].max(0).values
        else:
            lo, hi = lay.grid[:, 0], lay.grid[:, -1]
        flat = (hi - lo) < 1e-9
        lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
        t = torch.linspace(0, 1, n_points, dtype=lay.grid.dtype, device=lay.grid.device)
        sweep = lo + (hi - lo) * t[:, None]
        out[l] = (sweep.cpu().numpy(), lay.edge_activations(sweep).cpu().numpy())
    return out


def _num(v: float) -> str:
    return f"{v:.3g}".replace("e+0", "e").replace("e-0", "e-")


def _sym_label(name: str, params: Sequence[float]) -> str:
    """Compact text of ``c*name(a*x+b)+d``, dropping unit factors and zero shifts."""
    a, b, c, d = (float(p) for p in params)
    if name == "0":
        return _num(d) if abs(d) >= 5e-3 else "0"
    arg = {1.0: "x", -1.0: "-x"}.get(round(a, 3), f"{_num(a)}x")
    if abs(b) >= 5e-3:
        arg += f"{'+' if b > 0 else '-'}{_num(abs(b))}"
    if re.search(r"(?<![a-z])x(?![a-z])", name):            # "x", "x^2", "1/x", ...
        body = re.sub(r"(?<![a-z])x(?![a-z])", arg if arg == "x" else f"({arg})", name)
    else:
        body = f"{name}({arg})"
    scale = {1.0: "", -1.0: "-"}.get(round(c, 3), f"{_num(c)}*")
    text = scale + body
    if abs(d) >= 5e-3:
        text += f"{'+' if d > 0 else '-'}{_num(abs(d))}"
    return text


def _layout(model, title: bool) -> _Layout:
    """Place nodes, subnodes and edge boxes; sizes in inches."""
    sizes = [sum(w) for w in model.width]
    edges = [[(int(i), int(j)) for i, j in torch.nonzero(lay.mask > 0).tolist()]
             for lay in model.layers]
    want = max([0.6 * n for n in sizes] + [0.55 * len(e) for e in edges])
    L = _Layout(width=float(np.clip(want, 3.2, 18.0)), edges=edges)
    xs = lambda n: (np.arange(n) + 0.5) * L.width / max(n, 1)  # noqa: E731
    y = 0.55
    L.node_x.append(xs(sizes[0]))
    L.node_y.append(y)
    for l, lay in enumerate(model.layers):
        pitch = L.width / max(len(edges[l]), 1)
        has_mult = bool(model.width[l + 1][1])
        owner = np.asarray(model.subnode_owner(l + 1))
        nx = xs(sizes[l + 1])
        sub = nx[owner].copy()
        for m in np.unique(owner[sizes[l + 1] - model.width[l + 1][1] <= owner]):
            k = np.nonzero(owner == m)[0]                     # subnodes of mult node m
            step = min(0.22, 0.7 * L.width / sizes[l + 1] / len(k))
            sub[k] += (np.arange(len(k)) - (len(k) - 1) / 2) * step
        if pitch >= _MIN_PITCH:
            bw = min(0.85 * pitch, 0.8)
            bh = float(np.clip(bw * 0.8, 0.3, 0.65))
            label = 0.18 if lay.symbolic else 0.0
            L.box_y.append(y + 0.35 + bh / 2)
            L.box_wh.append((bw, bh))
            y += 0.35 + bh + label + 0.35
        else:
            L.box_y.append(float("nan"))
            L.box_wh.append((0.0, 0.0))
            y += 1.0
        L.sub_y.append(y)
        L.sub_x.append(sub)
        y += 0.2 if has_mult else 0.0
        L.node_x.append(nx)
        L.node_y.append(y)
    L.height = y + 0.5 + (0.35 if title else 0.0)
    return L


def _draw_layer(ax, L: _Layout, l: int, layer, alpha: np.ndarray, curve, pt: float) -> None:
    """Edge lines, boxes and curves of edge layer ``l``."""
    (bw, bh), cy = L.box_wh[l], L.box_y[l]
    src, dst = L.node_x[l], L.sub_x[l]
    y0, y1 = L.node_y[l], L.sub_y[l]
    segs, cols, boxes, bcols, lines, lcols, texts = [], [], [], [], [], [], []
    pitch = L.width / max(len(L.edges[l]), 1)
    for k, (i, j) in enumerate(L.edges[l]):
        sym = (i, j) in layer.symbolic
        col = np.append(_SYMBOLIC if sym else _SPLINE, alpha[i, j])
        if np.isnan(cy):
            segs.append([(src[i], y0), (dst[j], y1)])
            cols.append(col)
            continue
        bx = (k + 0.5) * pitch
        segs += [[(src[i], y0), (bx, cy - bh / 2)], [(bx, cy + bh / 2), (dst[j], y1)]]
        cols += [col, col]
        boxes.append(Rectangle((bx - bw / 2, cy - bh / 2), bw, bh))
        bcols.append(col)
        xv, yv = curve[0][:, i], curve[1][:, i, j]
        span = np.ptp(yv)
        yn = (yv - yv.min()) / span if span > 1e-9 * (1 + np.abs(yv).max()) else 0.5 + 0 * yv
        xn = (xv - xv[0]) / (xv[-1] - xv[0])
        pad = 0.12
        lines.append(np.column_stack([bx - bw / 2 + bw * (pad + (1 - 2 * pad) * xn),
                                      cy - bh / 2 + bh * (pad + (1 - 2 * pad) * yn)]))
        lcols.append(col)
        if sym:
            text = _sym_label(layer.symbolic[(i, j)].name,
                              layer.sym_params[i, j].detach().cpu().tolist())
            texts.append((bx, cy + bh / 2 + 0.03, text, col))
    lw = (0.9 if np.isnan(cy) or pitch > 0.3 else 0.5) * pt / 72
    ax.add_collection(LineCollection(segs, colors=cols, linewidths=lw, zorder=1))
    if boxes:
        ax.add_collection(PatchCollection(boxes, facecolors="white", edgecolors=bcols,
                                          linewidths=0.8 * pt / 72, zorder=2))
        ax.add_collection(LineCollection(lines, colors=lcols, linewidths=1.3 * pt / 72,
                                         zorder=3))
    for x, y, text, col in texts:
        size = float(np.clip(pitch * 72 / (0.6 * len(text)), 4.0, 8.0)) * pt / 72
        ax.text(x, y, text, ha="center", va="bottom", fontsize=size, color=col[:3],
                zorder=4)


def _draw_nodes(ax, model, L: _Layout, pt: float) -> None:
    """Sum nodes as dots, multiplication nodes as circled crosses, subnodes as points."""
    for l, (nx, ny) in enumerate(zip(L.node_x, L.node_y)):
        pitch = L.width / max(len(nx), 1)
        r = float(np.clip(pitch * 0.12, 0.02, 0.06))           # dot radius, inches
        n_sum, n_mult = model.width[l]
        ax.scatter(nx[:n_sum], np.full(n_sum, ny), s=(2 * r * pt) ** 2, c="black",
                   linewidths=0, zorder=5)
        if n_mult:
            mx = nx[n_sum:]
            ax.scatter(mx, np.full(n_mult, ny), s=(5 * r * pt) ** 2, facecolors="white",
                       edgecolors="black", linewidths=pt / 72, zorder=5)
            ax.scatter(mx, np.full(n_mult, ny), s=(3 * r * pt) ** 2, marker="x",
                       c="black", linewidths=1.4 * pt / 72, zorder=6)
        if l == 0 or not n_mult:
            continue
        sx, sy = L.sub_x[l - 1], L.sub_y[l - 1]
        owner = model.subnode_owner(l)
        ax.add_collection(LineCollection([[(x, sy), (nx[o], ny)] for x, o in zip(sx, owner)],
                                         colors="0.35", linewidths=0.7 * pt / 72, zorder=4))
        ax.scatter(sx, np.full(len(sx), sy), s=(1.2 * r * pt) ** 2, c="0.35",
                   linewidths=0, zorder=5)


def _draw_labels(ax, names: list[str], xs: np.ndarray, y: float, va: str, pt: float,
                 pitch: float) -> None:
    """Variable names under the inputs (va='top') or over the outputs (va='bottom')."""
    longest = max(len(re.sub(r"[${}\\_^]", "", n)) for n in names)
    size = float(np.clip(pitch * 72 / (0.65 * longest + 0.5), 5.0, 12.0))
    rot = 90 if pitch * 72 < 0.65 * size * longest and size <= 5.0 else 0
    for x, name in zip(xs, names):
        ax.text(x, y, name, ha="center", va=va, rotation=rot, fontsize=size * pt / 72)


def _check_names(names: Sequence[str] | None, n: int, arg: str, default: str) -> list[str]:
    if names is None:
        return [f"${default}_{{{k + 1}}}$" for k in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        raise InputError(f"{arg} has {len(names)} names but the model has {n} "
                         f"{'inputs' if arg == 'in_vars' else 'outputs'}")
    return names


def _save(fig: Figure, path: Any, dpi: float) -> None:
    """Write ``fig`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    fmt = _FORMATS[path.suffix.lower()]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                               dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def plot(model, path: str | os.PathLike | None = None, *, X: Any = None,
         in_vars: Sequence[str] | None = None, out_vars: Sequence[str] | None = None,
         title: str | None = None, n_points: int = 100, dpi: float = 150,
         scale: float = 1.0) -> Figure:
    r"""Draw ``model`` as a network of nodes and edge functions.

    Parameters
    ----------
    model : KAN
        The network (pruned or not); pruned edges (``mask == 0``) are omitted.
    path : str or path-like, optional
        Where to save the picture; the format follows the suffix
        (``.png``, ``.svg`` or ``.pdf``).  Written atomically.
    X : array-like (n, width[0]), optional
        Samples on which edge importance :math:`E_{ij}` (opacity) and each
        edge's input range are measured.  Default: the sample kept by the last
        ``fit``; with neither, all edges are opaque and curves span the grids.
    in_vars, out_vars : list of str, optional
        Input and output names (mathtext allowed); default :math:`x_i`, :math:`y_j`.
    title : str, optional
        Drawn above the network.
    n_points : int
        Points per edge curve (>= 2).
    dpi : float
        Resolution of raster output.
    scale : float
        Multiplies the figure size, fonts and line widths.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (nothing global is left open).

    Raises
    ------
    InputError
        Unsupported file suffix, wrong number of names, bad ``X``, ``n_points`` or ``scale``.
    """
    if path is not None and Path(path).suffix.lower() not in _FORMATS:
        raise InputError(f"cannot save a plot as {Path(path).suffix or 'a file without suffix'!r}"
                         f" ({os.fspath(path)}); use one of {', '.join(_FORMATS)}")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise InputError(f"n_points must be an integer >= 2, got {n_points!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a positive number, got {scale!r}")
    ins = _check_names(in_vars, model.n_inputs, "in_vars", "x")
    outs = _check_names(out_vars, model.n_outputs, "out_vars", "y")
    L = _layout(model, title is not None)
    pt = 72.0 * scale                                     # points per inch of layout
    with torch.no_grad():
        x = _sample(model, X)
        alphas = _alphas(model, x)
        boxed = [l for l in range(model.depth) if not np.isnan(L.box_y[l])]
        curves = _curves(model, x, int(n_points), boxed)
    fig = Figure(figsize=(L.width * scale, L.height * scale), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, L.width)
    ax.set_ylim(0, L.height)
    ax.set_axis_off()
    for l, layer in enumerate(model.layers):
        _draw_layer(ax, L, l, layer, alphas[l], curves.get(l), pt)
    _draw_nodes(ax, model, L, pt)
    _draw_labels(ax, ins, L.node_x[0], L.node_y[0] - 0.12, "top", pt,
                 L.width / len(ins))
    _draw_labels(ax, outs, L.node_x[-1], L.node_y[-1] + 0.12, "bottom", pt,
                 L.width / len(outs))
    if title is not None:
        ax.text(L.width / 2, L.height - 0.1, title, ha="center", va="top",
                fontsize=12 * scale)
    if path is not None:
        _save(fig, path, dpi)
    return fig

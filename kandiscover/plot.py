r"""Network diagrams of a KAN: node rows (inputs at the bottom), and between two
rows a band of boxes, one per live edge, each showing the edge's function
:math:`\phi_{ij}` over the range its input takes.  Opacity is the attribution
score normalised per layer, :math:`\alpha_{ij} = \mathrm{clip}(E_{ij}/\max E,
0.1, 1)`; symbolic edges are red and labelled; pruned edges are omitted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from .errors import InputError

if TYPE_CHECKING:       # matplotlib is imported when a figure is drawn, not with the package
    from matplotlib.figure import Figure

__all__ = ["plot"]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_SPLINE, _SYMBOLIC = (0.10, 0.20, 0.45), (0.80, 0.08, 0.10)
_MIN_PITCH = 0.12     # inches per box below which a band is drawn as plain lines
_MAX_SAMPLE = 4000    # rows of X used to measure the input ranges
_X_IN_NAME = re.compile(r"(?<![a-z])x(?![a-z])")   # the x of "x^2", "1/x", not "exp"


@dataclass
class _Layout:
    """Geometry in inches, which are also the axes' data coordinates."""
    width: float
    height: float = 0.0
    edges: list[list[tuple[int, int]]] = field(default_factory=list)
    node_x: list = field(default_factory=list)    # per node layer: x array, y
    node_y: list = field(default_factory=list)
    sub_x: list = field(default_factory=list)     # per edge layer: where its lines end
    sub_y: list = field(default_factory=list)
    box: list = field(default_factory=list)       # per edge layer: (y, w, h), y NaN: none


def _sample(model, X: Any) -> torch.Tensor | None:
    """The data to plot on: ``X``, else the model's fit sample, else None."""
    x = model.as_tensor(X) if X is not None else model.fit_sample_
    if x is not None and x.shape[0] > _MAX_SAMPLE:
        x = x[:: -(-x.shape[0] // _MAX_SAMPLE)]
    return x


def _alphas(model, x: torch.Tensor | None) -> list[np.ndarray]:
    """Per-layer (n_in, n_out) opacities from attribution (all 1 without data)."""
    if x is None:
        return [np.ones((lay.n_in, lay.n_out)) for lay in model.layers]
    out = []
    for s, lay in zip(model.attribution(x).edge_scores, model.layers):
        s = np.where(lay.mask.cpu().numpy() > 0, np.nan_to_num(s), 0.0)
        top = s.max(initial=0.0)
        out.append(np.clip(s / top, 0.1, 1.0) if top > 0 else np.ones_like(s))
    return out


def _curves(model, x: torch.Tensor | None, n_points: int, layers: Sequence[int]) -> dict:
    """Layer l -> (sweep (n_points, n_in), acts (n_points, n_in, n_out)) as numpy.

    Layer l's inputs are swept uniformly over their range on the data (from
    ``model.trace``) or, without data, over the layer's grid.
    """
    nodes = model.trace(x)[0] if x is not None else None
    out = {}
    for l in layers:
        lay = model.layers[l]
        lo, hi = ((nodes[l].min(0).values, nodes[l].max(0).values) if nodes is not None
                  else (lay.grid[:, 0], lay.grid[:, -1]))
        flat = (hi - lo) < 1e-9
        lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
        t = torch.linspace(0, 1, n_points, dtype=lay.grid.dtype, device=lay.grid.device)
        sweep = lo + (hi - lo) * t[:, None]
        out[l] = (sweep.cpu().numpy(), lay.edge_activations(sweep).cpu().numpy())
    return out


def _num(v: float) -> str:
    return f"{v:.3g}".replace("e+0", "e").replace("e-0", "e-")


def _sym_label(name: str, params: Sequence[float], sep: str = "") -> str:
    """Compact text of ``c*name(a*x+b)+d``, dropping unit factors and zero shifts;
    ``sep`` goes before the outer shift ``d`` (a newline splits long labels)."""
    a, b, c, d = (float(p) for p in params)
    if name == "0":
        return _num(d) if abs(d) >= 5e-3 else "0"
    arg = {1.0: "x", -1.0: "-x"}.get(round(a, 3), f"{_num(a)}x")
    if abs(b) >= 5e-3:
        arg += f"{'+' if b > 0 else '-'}{_num(abs(b))}"
    body = (_X_IN_NAME.sub(arg if arg == "x" else f"({arg})", name)
            if _X_IN_NAME.search(name) else f"{name}({arg})")
    text = {1.0: "", -1.0: "-"}.get(round(c, 3), f"{_num(c)}*") + body
    if abs(d) >= 5e-3:
        text += f"{sep}{'+' if d > 0 else '-'}{_num(abs(d))}"
    return text


def _subnode_x(model, l: int, node_x: np.ndarray, width: float) -> np.ndarray:
    """x of every subnode of node layer ``l``: under its node, factors spread out."""
    owner = np.asarray(model.subnode_owner(l))
    sub = node_x[owner].astype(float)
    for m in np.unique(owner[owner >= model.width[l][0]]):
        k = np.nonzero(owner == m)[0]
        step = min(0.22, 0.7 * width / len(node_x) / len(k))
        sub[k] += (np.arange(len(k)) - (len(k) - 1) / 2) * step
    return sub


def _layout(model, title: bool) -> _Layout:
    """Place nodes, subnodes and edge boxes (inches)."""
    sizes = [sum(w) for w in model.width]
    edges = [[(int(i), int(j)) for i, j in torch.nonzero(lay.mask > 0).tolist()]
             for lay in model.layers]
    want = max([0.6 * n for n in sizes] + [0.6 * len(e) for e in edges])
    L = _Layout(width=float(np.clip(want, 3.2, 18.0)), edges=edges)
    y = 0.55
    L.node_x.append((np.arange(sizes[0]) + 0.5) * L.width / sizes[0])
    L.node_y.append(y)
    for l, lay in enumerate(model.layers):
        nx = (np.arange(sizes[l + 1]) + 0.5) * L.width / sizes[l + 1]
        sub = _subnode_x(model, l + 1, nx, L.width)
        e = np.array(edges[l], dtype=int).reshape(-1, 2)
        pitch = L.width / max(len(e), 1)
        bx = (np.arange(len(e)) + 0.5) * pitch
        # long, flat lines need height to stay readable: the gaps grow with travel
        lo_gap = float(np.clip(0.15 * np.abs(bx - L.node_x[l][e[:, 0]]).max(initial=0),
                               0.3, 0.8))
        hi_gap = float(np.clip(0.12 * np.abs(bx - sub[e[:, 1]]).max(initial=0), 0.35, 1.6))
        if pitch >= _MIN_PITCH:
            bw = min(0.85 * pitch, 0.8)
            bh = float(np.clip(0.8 * bw, 0.3, 0.65))
            L.box.append((y + lo_gap + bh / 2, bw, bh))
            y += lo_gap + bh + (0.26 if lay.symbolic else 0.0) + hi_gap
        else:
            L.box.append((float("nan"), 0.0, 0.0))
            y += float(np.clip(0.12 * L.width, 1.0, 2.5))
        L.sub_x.append(sub)
        L.sub_y.append(y)
        y += 0.28 if model.width[l + 1][1] else 0.0
        L.node_x.append(nx)
        L.node_y.append(y)
    L.height = y + 0.5 + (0.35 if title else 0.0)
    return L


def _curve_xy(xv: np.ndarray, yv: np.ndarray, bx: float, cy: float, bw: float,
              bh: float, pad: float = 0.12) -> np.ndarray:
    """Map a curve into its box (each box has its own y scale)."""
    span = np.ptp(yv)
    yn = (yv - yv.min()) / span if span > 1e-9 * (1 + np.abs(yv).max()) else 0.5 + 0 * yv
    xn = (xv - xv[0]) / (xv[-1] - xv[0])
    return np.column_stack([bx - bw / 2 + bw * (pad + (1 - 2 * pad) * xn),
                            cy - bh / 2 + bh * (pad + (1 - 2 * pad) * yn)])


def _draw_layer(ax, L: _Layout, l: int, layer, alpha: np.ndarray, curve, pt: float) -> None:
    """Lines, boxes, curves and symbolic labels of edge layer ``l``."""
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle

    cy, bw, bh = L.box[l]
    src, dst, y0, y1 = L.node_x[l], L.sub_x[l], L.node_y[l], L.sub_y[l]
    n = len(L.edges[l])
    pitch = L.width / max(n, 1)
    fade = min(1.0, np.sqrt(30 / max(n, 1)))          # thin out the lines of dense bands
    segs, scols, boxes, bcols, lines, labels = [], [], [], [], [], []
    for k, (i, j) in enumerate(L.edges[l]):
        col = (*(_SYMBOLIC if (i, j) in layer.symbolic else _SPLINE), alpha[i, j])
        lcol = (*col[:3], col[3] * fade)
        if np.isnan(cy):
            segs.append([(src[i], y0), (dst[j], y1)])
            scols.append(lcol)
            continue
        bx = (k + 0.5) * pitch
        segs += [[(src[i], y0), (bx, cy - bh / 2)], [(bx, cy + bh / 2), (dst[j], y1)]]
        scols += [lcol, lcol]
        boxes.append(Rectangle((bx - bw / 2, cy - bh / 2), bw, bh))
        bcols.append(col)
        lines.append(_curve_xy(curve[0][:, i], curve[1][:, i, j], bx, cy, bw, bh))
        if (i, j) in layer.symbolic:
            labels.append((k, layer.symbolic[(i, j)].name,
                           layer.sym_params[i, j].tolist(), col))
    lw = (0.9 if pitch > 0.3 else 0.6 if pitch >= _MIN_PITCH else 0.3) * pt / 72
    ax.add_collection(LineCollection(segs, colors=scols, linewidths=lw, zorder=1))
    if boxes:
        ax.add_collection(PatchCollection(boxes, facecolors="white", edgecolors=bcols,
                                          linewidths=0.8 * pt / 72, zorder=2))
        ax.add_collection(LineCollection(lines, colors=bcols, linewidths=1.3 * pt / 72,
                                         zorder=3))
    taken = {k for k, *_ in labels}
    for k, name, params, col in labels:
        # a label may spill over its neighbours when neither of them has one
        room = pitch * (2.5 if 0 < k < n - 1 and not {k - 1, k + 1} & taken else 1.0)
        text = _sym_label(name, params)
        size = room * 72 / (0.6 * len(text))
        if size < 6 and "\n" in (two := _sym_label(name, params, "\n")):
            text, size = two, room * 72 / (0.6 * max(map(len, two.split("\n"))))
        ax.text((k + 0.5) * pitch, cy + bh / 2 + 0.03, text, ha="center", va="bottom",
                color=(*col[:3], max(col[3], 0.5)), linespacing=1.0, zorder=4,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=0.5),
                fontsize=float(np.clip(size, 4.0, 8.0)) * pt / 72)


def _draw_nodes(ax, model, L: _Layout, pt: float) -> None:
    """Sum nodes as dots, multiplication nodes as circled crosses, subnodes as points."""
    from matplotlib.collections import LineCollection

    for l, (nx, ny) in enumerate(zip(L.node_x, L.node_y)):
        r = float(np.clip(0.12 * L.width / len(nx), 0.02, 0.06))   # dot radius, inches
        n_sum, n_mult = model.width[l]
        ax.scatter(nx[:n_sum], np.full(n_sum, ny), s=(2 * r * pt) ** 2, c="black",
                   linewidths=0, zorder=5)
        if not n_mult:
            continue
        my = np.full(n_mult, ny)
        ax.scatter(nx[n_sum:], my, s=(5 * r * pt) ** 2, facecolors="white",
                   edgecolors="black", linewidths=pt / 72, zorder=5)
        ax.scatter(nx[n_sum:], my, s=(3 * r * pt) ** 2, marker="x", c="black",
                   linewidths=1.4 * pt / 72, zorder=6)
        sx, sy = L.sub_x[l - 1], L.sub_y[l - 1]
        owner = model.subnode_owner(l)
        ax.add_collection(LineCollection([[(x, sy), (nx[o], ny)] for x, o in zip(sx, owner)],
                                         colors="0.35", linewidths=0.7 * pt / 72, zorder=4))
        ax.scatter(sx, np.full(len(sx), sy), s=(1.2 * r * pt) ** 2, c="0.35",
                   linewidths=0, zorder=5)


def _draw_names(ax, names: list[str], xs: np.ndarray, y: float, va: str, pt: float) -> None:
    """Variable names under the inputs (va='top') or over the outputs (va='bottom')."""
    pitch = float(xs[1] - xs[0]) if len(xs) > 1 else 2.0
    longest = max(len(re.sub(r"[${}\\_^]", "", s)) for s in names)
    size = float(np.clip(pitch * 72 / (0.65 * longest + 0.5), 5.0, 12.0))
    rot = 90 if 0.65 * size * longest > pitch * 72 else 0
    for x, name in zip(xs, names):
        ax.text(x, y, name, ha="center", va=va, rotation=rot, fontsize=size * pt / 72)


def _names(names: Sequence[str] | None, n: int, arg: str, default: str) -> list[str]:
    if names is None:
        return [f"${default}_{{{k + 1}}}$" for k in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        what = "inputs" if arg == "in_vars" else "outputs"
        raise InputError(f"{arg} has {len(names)} names but the model has {n} {what}")
    return names


def _save(fig: Figure, path: Path, dpi: float) -> None:
    """Write ``fig`` to ``path`` through a temporary file in the same folder."""
    from .data.store import atomic_path
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, format=_FORMATS[path.suffix.lower()], dpi=dpi)


def plot(model, path: str | os.PathLike | None = None, *, X: Any = None,
         in_vars: Sequence[str] | None = None, out_vars: Sequence[str] | None = None,
         title: str | None = None, n_points: int = 100, dpi: float = 150,
         scale: float = 1.0) -> Figure:
    r"""Draw ``model``: nodes in rows, every live edge with its function in a box.

    Parameters
    ----------
    model : KAN
        The network, pruned or not; pruned edges (``mask == 0``) are omitted.
    path : str or path-like, optional
        Where to save the picture; the format follows the suffix (``.png``,
        ``.svg`` or ``.pdf``).  Written to a temporary file, then renamed.
    X : array-like (n, width[0]), optional
        Samples on which edge importance :math:`E_{ij}` (the opacity) and the
        input range of every edge are measured.  Default: the sample kept by
        the last ``fit``; with neither, edges are opaque and curves span the grids.
    in_vars, out_vars : list of str, optional
        Input and output names (mathtext allowed); default :math:`x_i`, :math:`y_j`.
    title : str, optional
        Text above the network.
    n_points : int
        Points per edge curve (>= 2).
    dpi : float
        Resolution of raster output.
    scale : float
        Multiplies the figure size, fonts and line widths.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot: nothing global is left open.

    Raises
    ------
    InputError
        Unsupported suffix, wrong number of names, bad ``X``, ``n_points`` or ``scale``.
    """
    if path is not None:
        path = Path(path)
        if path.suffix.lower() not in _FORMATS:
            raise InputError(f"cannot save a plot as {path.suffix or 'a file without suffix'!r}"
                             f" ({path}); use one of {', '.join(_FORMATS)}")
        if not path.parent.is_dir():
            raise InputError(f"cannot save the plot to {path}: folder {path.parent} "
                             "does not exist")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise InputError(f"n_points must be an integer >= 2, got {n_points!r}")
    if not isinstance(scale, (int, float, np.number)) or not (np.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a positive number, got {scale!r}")
    ins = _names(in_vars, model.n_inputs, "in_vars", "x")
    outs = _names(out_vars, model.n_outputs, "out_vars", "y")
    L = _layout(model, title is not None)
    pt = 72.0 * scale                                   # points per inch of layout
    with torch.no_grad():
        x = _sample(model, X)
        alphas = _alphas(model, x)
        boxed = [l for l in range(model.depth) if not np.isnan(L.box[l][0])]
        curves = _curves(model, x, int(n_points), boxed)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=(L.width * scale, L.height * scale), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set(xlim=(0, L.width), ylim=(0, L.height))
        ax.set_axis_off()
        for l, layer in enumerate(model.layers):
            _draw_layer(ax, L, l, layer, alphas[l], curves.get(l), pt)
    _draw_nodes(ax, model, L, pt)
    _draw_names(ax, ins, L.node_x[0], L.node_y[0] - 0.12, "top", pt)
    _draw_names(ax, outs, L.node_x[-1], L.node_y[-1] + 0.12, "bottom", pt)
    if title is not None:
        ax.text(L.width / 2, L.height - 0.1, title, ha="center", va="top",
                fontsize=12 * scale)
    if path is not None:
        _save(fig, path, dpi)
    return fig

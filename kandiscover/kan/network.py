r"""The Kolmogorov-Arnold Network, with sum and multiplication nodes.

A KAN of depth ``L`` alternates edge layers and node layers.  Layer ``l``
maps the ``n_l`` nodes of node layer ``l`` to *subnodes*: every subnode sums
its incoming edges, :math:`s_j = \sum_i \phi_{ij}(x_i)`, then gets an affine
map :math:`\alpha_j s_j + \beta_j`.  A sum node takes one subnode; a
multiplication node (KAN 2.0's MultKAN) takes ``arity`` consecutive
subnodes and multiplies them.  A final node affine map gives the node value.

``width`` lists node layers: ``[2, (3, 2), 1]`` is 2 inputs, a hidden layer
with 3 sum nodes and 2 multiplication nodes, and 1 output.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .._validation import as_2d_array, check_int, check_positive
from ..errors import InputError, InputTypeError
from .layer import KANLayer

__all__ = ["KAN"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _normalize_width(width: Any) -> list[tuple[int, int]]:
    if isinstance(width, (str, bytes)) or not isinstance(width, Sequence):
        raise InputTypeError(f"width must be a list such as [2, 5, 1], got {width!r}")
    if len(width) < 2:
        raise InputError(f"width needs at least an input and an output layer, got {list(width)!r}")
    out = []
    for pos, entry in enumerate(width):
        if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
            pair = (int(entry), 0)
        elif isinstance(entry, Sequence) and len(entry) == 2 and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in entry):
            pair = (int(entry[0]), int(entry[1]))
        else:
            raise InputTypeError(
                f"width[{pos}] must be an int or a pair (n_sum, n_mult), got {entry!r}")
        if pair[0] < 0 or pair[1] < 0 or sum(pair) < 1:
            raise InputError(f"width[{pos}] must have at least one node, got {entry!r}")
        out.append(pair)
    if out[0][1]:
        raise InputError(f"width[0] (the inputs) cannot have multiplication nodes, got {width[0]!r}")
    return out


def _normalize_arity(mult_arity: Any, width: list[tuple[int, int]]) -> list[list[int]]:
    counts = [m for _, m in width]
    total = sum(counts)

    def check(a: Any, where: str) -> int:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 2:
            raise InputError(f"mult_arity{where} must be an integer >= 2, got {a!r}")
        return int(a)

    if isinstance(mult_arity, (int, np.integer)) and not isinstance(mult_arity, bool):
        a = check(mult_arity, "")
        return [[a] * m for m in counts]
    if not isinstance(mult_arity, Sequence) or isinstance(mult_arity, (str, bytes)):
        raise InputTypeError(f"mult_arity must be an int or a list, got {mult_arity!r}")
    entries = list(mult_arity)
    if len(entries) == len(width) and all(
            isinstance(e, Sequence) and not isinstance(e, (str, bytes)) for e in entries):
        res = []
        for l, (e, m) in enumerate(zip(entries, counts)):
            if len(e) != m:
                raise InputError(f"mult_arity[{l}] lists {len(e)} arities but width[{l}] "
                                 f"has {m} multiplication nodes")
            res.append([check(a, f"[{l}][{t}]") for t, a in enumerate(e)])
        return res
    if len(entries) != total:
        raise InputError(
            f"mult_arity lists {len(entries)} arities but the network has {total} "
            "multiplication nodes (give one per node, or one list per layer)")
    flat = [check(a, f"[{t}]") for t, a in enumerate(entries)]
    res, pos = [], 0
    for m in counts:
        res.append(flat[pos:pos + m])
        pos += m
    return res


class KAN(nn.Module):
    """Kolmogorov-Arnold Network.

    Parameters
    ----------
    width : list
        Nodes per layer; each entry an int (sum nodes) or ``(n_sum, n_mult)``.
        The list is copied, never modified.
    grid : int
        Number of B-spline grid intervals (>= 1).
    k : int
        Spline order (>= 1).
    mult_arity : int or list
        Inputs per multiplication node: one int for all, one int per node
        (in network order), or one list per layer.
    seed : int
        Seeds this model's own ``torch.Generator``; global RNGs are untouched.
    grid_range : (float, float)
        Initial grid interval of every edge.
    noise_scale, base_scale, spline_scale : float
        Initialisation scales (spline coefficients, SiLU weights, spline weights).
    affine_trainable : bool
        Whether the node and subnode affine maps are trained.
    dtype : torch.float32 or torch.float64
    """

    def __init__(self, width: Sequence, grid: int = 5, k: int = 3,
                 mult_arity: int | Sequence = 2, seed: int = 0,
                 grid_range: tuple[float, float] = (-1.0, 1.0), noise_scale: float = 0.5,
                 base_scale: float = 1.0, spline_scale: float = 1.0,
                 affine_trainable: bool = False, grid_eps: float = 0.02,
                 dtype: torch.dtype | str = torch.float32):
        super().__init__()
        w = _normalize_width(width)
        grid = check_int(grid, "grid", 1)
        k = check_int(k, "k", 1)
        seed = check_int(seed, "seed", 0)
        arity = _normalize_arity(mult_arity, w)
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
            dtype = _DTYPES[dtype]
        if dtype not in (torch.float32, torch.float64):
            raise InputError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        lo, hi = (float(v) for v in grid_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise InputError(f"grid_range must be (low, high) with low < high, got {grid_range!r}")
        for name, v in (("noise_scale", noise_scale), ("base_scale", base_scale),
                        ("spline_scale", spline_scale)):
            check_positive(v, name, allow_zero=True)
        self.config: dict[str, Any] = dict(
            width=[list(p) for p in w], grid=grid, k=k, mult_arity=arity, seed=seed,
            grid_range=[lo, hi], noise_scale=float(noise_scale),
            base_scale=float(base_scale), spline_scale=float(spline_scale),
            affine_trainable=bool(affine_trainable), grid_eps=float(grid_eps),
            dtype=str(dtype).replace("torch.", ""))
        self.width = w
        self.mult_arity = arity
        self.k, self.seed, self.dtype = k, seed, dtype
        gen = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList()
        self.subnode_scale = nn.ParameterList()
        self.subnode_bias = nn.ParameterList()
        self.node_scale = nn.ParameterList()
        self.node_bias = nn.ParameterList()
        for l in range(len(w) - 1):
            n_in = sum(w[l])
            n_nodes = sum(w[l + 1])
            n_sub = w[l + 1][0] + sum(arity[l + 1])
            self.layers.append(KANLayer(n_in, n_sub, grid=grid, k=k, grid_range=(lo, hi),
                                        noise_scale=noise_scale, base_scale=base_scale,
                                        spline_scale=spline_scale, generator=gen,
                                        dtype=dtype))
            for plist, size, val in ((self.subnode_scale, n_sub, 1.0),
                                     (self.subnode_bias, n_sub, 0.0),
                                     (self.node_scale, n_nodes, 1.0),
                                     (self.node_bias, n_nodes, 0.0)):
                plist.append(nn.Parameter(torch.full((size,), val, dtype=dtype),
                                          requires_grad=bool(affine_trainable)))
        self._mult_plan = [self._plan_mult(l) for l in range(1, len(w))]
        self.fit_sample_: torch.Tensor | None = None

    def _apply(self, fn, *args, **kwargs):
        # keep dtype and config in step with .double(), .float(), .to(dtype)
        out = super()._apply(fn, *args, **kwargs)
        self.dtype = self.layers[0].coef.dtype
        self.config["dtype"] = str(self.dtype).replace("torch.", "")
        return out

    # ----------------------------------------------------------- structure
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def width_spec(self) -> list:
        """``width`` as a user writes it: ints for pure sum layers, pairs otherwise."""
        return [list(p) if p[1] else p[0] for p in self.width]

    @property
    def n_inputs(self) -> int:
        return self.width[0][0]

    @property
    def n_outputs(self) -> int:
        return sum(self.width[-1])

    def _plan_mult(self, l: int):
        """Index plan for node layer l: groups of (arity, (n, arity) subnode idx)."""
        n_sum = self.width[l][0]
        arities = self.mult_arity[l]
        if not arities:
            return None
        starts = np.cumsum([0] + arities[:-1]) + n_sum
        groups, order = [], []
        for r in sorted(set(arities)):
            nodes = [m for m, a in enumerate(arities) if a == r]
            idx = torch.tensor([[starts[m] + t for t in range(r)] for m in nodes])
            groups.append((r, idx))
            order.extend(nodes)
        inverse = torch.argsort(torch.tensor(order))
        return n_sum, groups, inverse

    def subnode_owner(self, l: int) -> list[int]:
        """For node layer ``l`` (>= 1): the node index of every subnode."""
        n_sum = self.width[l][0]
        owner = list(range(n_sum))
        for m, a in enumerate(self.mult_arity[l]):
            owner.extend([n_sum + m] * a)
        return owner

    def _combine(self, l: int, s: torch.Tensor) -> torch.Tensor:
        plan = self._mult_plan[l]
        if plan is None:
            return s
        n_sum, groups, inverse = plan
        prods = torch.cat([s[:, idx].prod(-1) for _, idx in groups], dim=1)
        if len(groups) > 1:
            prods = prods[:, inverse]
        return torch.cat([s[:, :n_sum], prods], dim=1)

    # -------------------------------------------------------------- forward
    def _nodes_from_subnodes(self, l: int, s: torch.Tensor) -> torch.Tensor:
        """Raw subnode sums of layer l -> values of node layer l + 1."""
        s = s * self.subnode_scale[l] + self.subnode_bias[l]
        return self._combine(l, s) * self.node_scale[l] + self.node_bias[l]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for l, layer in enumerate(self.layers):
            x = self._nodes_from_subnodes(l, layer(x))
        return x

    def trace(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Forward pass keeping every node layer's values and every layer's
        raw subnode sums (before the subnode affine map)."""
        nodes, subs = [x], []
        for l, layer in enumerate(self.layers):
            subs.append(layer(x))
            x = self._nodes_from_subnodes(l, subs[-1])
            nodes.append(x)
        return nodes, subs

    def edge_activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per-edge activations of every layer, [(batch, n_in, n_out), ...].

        Use a subsample: memory grows as batch * edges.
        """
        nodes, _ = self.trace(x)
        return [layer.edge_activations(h) for layer, h in zip(self.layers, nodes[:-1])]

    def as_tensor(self, X: Any, name: str = "X") -> torch.Tensor:
        """Validate ``X`` (n, width[0]) and convert it to this model's dtype."""
        arr = as_2d_array(X, name)
        if arr.shape[1] != self.n_inputs:
            raise InputError(f"{name} has {arr.shape[1]} columns but the model's width[0] "
                             f"is {self.n_inputs}")
        dev = self.layers[0].coef.device
        return torch.as_tensor(arr, dtype=self.dtype, device=dev)

    @torch.no_grad()
    def predict(self, X: Any) -> np.ndarray:
        """Model outputs for ``X`` as a numpy array (n, n_outputs)."""
        return self(self.as_tensor(X)).cpu().numpy()

    # ---------------------------------------------------------------- grids
    @torch.no_grad()
    def update_grid(self, X: Any, grid_eps: float | None = None) -> "KAN":
        """Move every layer's knots to where its inputs live on ``X``, keeping
        each edge's function (see :meth:`KANLayer.update_grid`).  In place."""
        x = X if isinstance(X, torch.Tensor) and X.dtype == self.dtype else self.as_tensor(X)
        eps = self.config["grid_eps"] if grid_eps is None else grid_eps
        for l, layer in enumerate(self.layers):
            layer.update_grid(x, grid_eps=eps)
            x = self._nodes_from_subnodes(l, layer(x))
        return self

    @torch.no_grad()
    def refine(self, new_grid: int, X: Any = None) -> "KAN":
        """Grid extension: a new model with ``new_grid`` intervals per edge.

        The new knots follow the old ones' distribution (piecewise-linear
        interpolation of the old knots); each new spline is the least-squares
        fit of the old one on a dense sweep of its grid plus the layer's
        inputs on ``X`` (default: the sample kept from the last ``fit``).
        Everything else is copied.
        """
        new_grid = check_int(new_grid, "new_grid", 1)
        cfg = dict(self.config, grid=new_grid)
        new = KAN(**{**cfg, "width": [tuple(p) for p in cfg["width"]]})
        new.load_state_dict(_without_splines(self.state_dict()), strict=False)
        if X is not None:
            xs = self.trace(self.as_tensor(X))[0]
        elif self.fit_sample_ is not None:
            xs = self.trace(self.fit_sample_)[0]
        else:
            xs = None
        for l, (old, lay) in enumerate(zip(self.layers, new.layers)):
            G_old = old.num_grid
            pos = torch.linspace(0, G_old, new_grid + 1, dtype=torch.float64)
            lo = pos.floor().clamp(max=G_old - 1).long()
            frac = (pos - lo).to(old.grid.dtype)
            g = old.grid[:, lo] * (1 - frac) + old.grid[:, lo + 1] * frac
            lay.set_grid(g)
            n = 8 * (new_grid + self.k) + 64
            t = torch.linspace(0, 1, n, dtype=old.grid.dtype)[:, None]
            pts = old.grid[:, 0] + (old.grid[:, -1] - old.grid[:, 0]) * t
            if xs is not None:
                pts = torch.cat([pts, xs[l]], 0)
            lay.refit_from(old, pts)
        new.fit_sample_ = self.fit_sample_
        return new

    # ------------------------------------------------------------- symbolic
    def set_symbolic(self, l: int, i: int, j: int, fn: Callable, params=(1.0, 0.0, 1.0, 0.0),
                     name: str | None = None) -> None:
        """Make edge (i -> j) of layer l compute ``c * fn(a * x + b) + d``."""
        self._layer(l).set_symbolic(i, j, fn, params, name)

    def unfix(self, l: int, i: int, j: int, X: Any = None, keep_spline: bool = False) -> None:
        """Release symbolic edge (i -> j) of layer ``l`` into a trainable spline.

        By default the spline is initialised to the symbolic function's shape
        (see :meth:`KANLayer.release`); with ``X``, the layer's grids first
        move to where its inputs live on ``X`` (every other edge keeps its
        function).  ``keep_spline=True`` instead restores the spline the edge
        had before it was fixed."""
        layer = self._layer(l)
        if keep_spline:
            layer.set_spline(i, j)
            return
        layer.release(i, j, self._grid_to_data(l, X))

    @torch.no_grad()
    def _grid_to_data(self, l: int, X: Any) -> torch.Tensor | None:
        """Move layer l's grids to its inputs on X (functions kept); those inputs."""
        if X is None:
            return None
        h = self.trace(self.as_tensor(X))[0][l]
        self.layers[l].update_grid(h, grid_eps=self.config["grid_eps"])
        return h

    def unfix_all(self, X: Any = None) -> None:
        """Release every symbolic edge into a spline of the same shape
        (layer by layer; with ``X`` the grids first follow the data)."""
        for l, layer in enumerate(self.layers):
            edges = sorted(layer.symbolic)
            if not edges:
                continue
            h = self._grid_to_data(l, X)
            for i, j in edges:
                layer.release(i, j, h)

    def expand_width(self, layer: int, n_sum: int = 0, n_mult: int = 0,
                     mult_arity: int = 2, seed: int | None = None) -> "KAN":
        """A wider copy; see :func:`kandiscover.kan.expand.expand_width`."""
        from .expand import expand_width
        return expand_width(self, layer, n_sum, n_mult, mult_arity, seed)

    def expand_depth(self) -> "KAN":
        """A deeper copy; see :func:`kandiscover.kan.expand.expand_depth`."""
        from .expand import expand_depth
        return expand_depth(self)

    def _layer(self, l: int) -> KANLayer:
        if not 0 <= l < self.depth:
            raise IndexError(f"layer {l} does not exist; the model has {self.depth} layers")
        return self.layers[l]

    # ----------------------------------------------------- delegated stages
    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Train in place; see :func:`kandiscover.kan.train.fit`."""
        from .train import fit
        return fit(self, X, y, **kwargs)

    def attribution(self, X: Any = None):
        """Edge and node importance scores; see :func:`kandiscover.sparsify.prune.attribution`."""
        from ..sparsify.prune import attribution
        return attribution(self, X)

    def prune(self, X: Any = None, node_threshold: float = 1e-2,
              edge_threshold: float = 3e-2):
        """A pruned copy and its report; see :func:`kandiscover.sparsify.prune.prune`."""
        from ..sparsify.prune import prune
        return prune(self, X, node_threshold=node_threshold, edge_threshold=edge_threshold)

    def copy(self) -> "KAN":
        """A deep copy (parameters, masks, symbolic edges)."""
        return copy.deepcopy(self)

    def n_edges(self) -> int:
        """Number of live (unmasked) edges."""
        return int(sum(layer.mask.sum().item() for layer in self.layers))

    def describe(self) -> str:
        """One line per layer: live edges, symbolic edges, node counts."""
        lines = [f"KAN width={self.width_spec} "
                 f"grid={self.layers[0].num_grid} k={self.k}"]
        for l, layer in enumerate(self.layers):
            lines.append(f"  layer {l}: {int(layer.mask.sum())} live edges of "
                         f"{layer.n_in * layer.n_out}, {len(layer.symbolic)} symbolic")
        return "\n".join(lines)


def _without_splines(state: dict) -> dict:
    """State entries that do not depend on the grid size."""
    return {k: v for k, v in state.items()
            if not k.endswith((".coef", ".grid", ".knots"))}

r"""One KAN layer: a learnable 1-D function on every edge.

Edge :math:`(i \to j)` of a layer with ``n_in`` inputs and ``n_out`` outputs
computes

.. math::
    \phi_{ij}(x) = m_{ij}\,\bigl[w^b_{ij}\,\mathrm{silu}(x)
                   + w^s_{ij} \sum_{m} c_{ijm} B_m(x)\bigr]

where :math:`m_{ij} \in \{0, 1\}` is the edge mask (0 = pruned).  An edge can
instead be *symbolic*: it then computes :math:`m_{ij}\,[c\,f(a x + b) + d]`
for a torch function :math:`f` and four trainable numbers (a, b, c, d).
Output :math:`j` is :math:`\sum_i \phi_{ij}(x_i)`.

Hot path: the basis is computed once per input, then a single matmul with
the (masked, scaled) coefficients; the (batch, n_in, n_out) tensor of
per-edge activations is built only by :meth:`KANLayer.edge_activations`,
which regularization, attribution and plotting call on a subsample.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .spline import BasisPlan, bspline_basis, curve_to_coef, extend_grid, uniform_grid

__all__ = ["KANLayer", "SymbolicEdge"]


class SymbolicEdge:
    """A symbolic edge's function: its name and torch callable."""

    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.name = name
        self.fn = fn

    def __repr__(self) -> str:
        return f"SymbolicEdge({self.name!r})"

    def __reduce__(self):
        # library functions travel by name (their torch forms can be closures)
        from ..symbolic import library
        try:
            if library.get(self.name).train_fn is self.fn:
                return (_library_edge, (self.name,))
        except KeyError:
            pass
        return (SymbolicEdge, (self.name, self.fn))


def _library_edge(name: str) -> SymbolicEdge:
    from ..symbolic import library
    return SymbolicEdge(name, library.get(name).train_fn)


class KANLayer(nn.Module):
    """A layer of ``n_in * n_out`` spline edges.

    Parameters
    ----------
    n_in, n_out : numbers of input and output nodes
    grid : number of grid intervals ``G``
    k : spline order
    grid_range : initial grid interval, shared by all inputs
    noise_scale : initial spline coefficients are uniform in
        ``+- noise_scale / (2 G)``
    generator : the ``torch.Generator`` that draws the initial parameters
    """

    def __init__(self, n_in: int, n_out: int, grid: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0),
                 noise_scale: float = 0.5, base_scale: float = 1.0,
                 spline_scale: float = 1.0, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.n_in, self.n_out, self.k = n_in, n_out, k
        g = uniform_grid(n_in, grid, grid_range[0], grid_range[1], dtype)
        self.register_buffer("grid", g)
        self.register_buffer("knots", extend_grid(g, k))
        nb = grid + k
        u = torch.rand(n_in, n_out, nb, generator=generator, dtype=dtype)
        self.coef = nn.Parameter((u - 0.5) * noise_scale / grid)
        ub = torch.rand(n_in, n_out, generator=generator, dtype=dtype)
        self.scale_base = nn.Parameter(base_scale * (2 * ub - 1) / n_in ** 0.5)
        self.scale_sp = nn.Parameter(
            torch.full((n_in, n_out), spline_scale / n_in ** 0.5, dtype=dtype))
        self.register_buffer("mask", torch.ones(n_in, n_out, dtype=dtype))
        self.register_buffer("sym_mask", torch.zeros(n_in, n_out, dtype=dtype))
        p = torch.zeros(n_in, n_out, 4, dtype=dtype)
        p[..., 0] = 1.0
        p[..., 2] = 1.0
        self.sym_params = nn.Parameter(p)
        self.symbolic: dict[tuple[int, int], SymbolicEdge] = {}
        self._groups: list[tuple[Callable, torch.Tensor, torch.Tensor]] = []

    # ------------------------------------------------------------------ grid
    @property
    def num_grid(self) -> int:
        return self.grid.shape[1] - 1

    def set_grid(self, grid: torch.Tensor) -> None:
        """Replace the (n_in, G + 1) grid; coefficients must be set by the caller."""
        self.grid = grid.to(self.grid.dtype).contiguous()
        self.knots = extend_grid(self.grid, self.k)

    # ------------------------------------------------------------ symbolic
    def set_symbolic(self, i: int, j: int, fn: "str | Callable[[torch.Tensor], torch.Tensor]",
                     params: tuple[float, float, float, float] = (1.0, 0.0, 1.0, 0.0),
                     name: str | None = None) -> None:
        """Make edge (i -> j) compute ``c * fn(a * x + b) + d``.

        ``fn`` is a library name (``"sin"``, ``"x^2"``; the singularity-safe
        form is used) or a torch callable.  ``params`` is (a, b, c, d).
        ``name`` identifies the function in saved files and formulas
        (defaults to the library name or ``fn.__name__``).
        """
        self._check_edge(i, j)
        if isinstance(fn, str):
            from ..symbolic import library
            entry = library.get(fn)
            fn, name = entry.train_fn, name or entry.name
        if not callable(fn):
            raise TypeError(f"fn must be a callable torch function, got {fn!r}")
        if len(params) != 4:
            raise ValueError(f"params must be (a, b, c, d), got {params!r}")
        label = name or getattr(fn, "__name__", None)
        if not label or label == "<lambda>":
            raise ValueError("a name is needed for this function (pass name=...)")
        self.symbolic[(i, j)] = SymbolicEdge(label, fn)
        with torch.no_grad():
            self.sym_params[i, j] = torch.as_tensor(params, dtype=self.sym_params.dtype)
            self.sym_mask[i, j] = 1.0
        self._rebuild_groups()

    def set_spline(self, i: int, j: int) -> None:
        """Turn edge (i -> j) back into a spline edge (its spline is unchanged)."""
        self._check_edge(i, j)
        self.symbolic.pop((i, j), None)
        with torch.no_grad():
            self.sym_mask[i, j] = 0.0
        self._rebuild_groups()

    @torch.no_grad()
    def release(self, i: int, j: int, x: torch.Tensor | None = None) -> None:
        """Turn symbolic edge (i -> j) into a spline of the same shape: the
        spline is the least-squares fit of the symbolic function on a dense
        sweep of input i's grid (plus the samples ``x[:, i]`` inside it); the
        SiLU part is set to zero.  Outside the grid the spline is zero, so the
        grid should cover where the edge's inputs live."""
        from ..errors import InputError
        from .spline import curve_to_coef

        self._check_edge(i, j)
        if (i, j) not in self.symbolic:
            raise InputError(f"edge ({i}, {j}) is not symbolic; there is nothing to release")
        lo, hi = self.grid[i, 0], self.grid[i, -1]
        pts = lo + (hi - lo) * torch.linspace(0, 1, 8 * (self.num_grid + self.k) + 64,
                                              dtype=self.grid.dtype)
        if x is not None:
            xi = x[:, i].to(pts.dtype)
            pts = torch.cat([pts, xi[(xi >= lo) & (xi <= hi)]])
        a, b, c, d = self.sym_params[i, j]
        target = c * self.symbolic[(i, j)].fn(a * pts + b) + d
        ok = torch.isfinite(target)
        coef = curve_to_coef(pts[ok, None], target[ok, None, None], self.knots[i:i + 1], self.k)
        self.coef[i, j] = coef[0, 0].to(self.coef.dtype)
        self.scale_base[i, j] = 0.0
        self.scale_sp[i, j] = 1.0
        self.set_spline(i, j)

    def _check_edge(self, i: int, j: int) -> None:
        if not (0 <= i < self.n_in and 0 <= j < self.n_out):
            raise IndexError(
                f"edge ({i}, {j}) does not exist in a layer of {self.n_in} inputs "
                f"and {self.n_out} outputs")

    def _rebuild_groups(self) -> None:
        by_name: dict[str, tuple[Callable, list[int], list[int]]] = {}
        for (i, j), edge in sorted(self.symbolic.items()):
            entry = by_name.setdefault(edge.name, (edge.fn, [], []))
            entry[1].append(i)
            entry[2].append(j)
        dev = self.sym_params.device
        self._groups = [(fn, torch.tensor(ii, device=dev), torch.tensor(jj, device=dev))
                        for fn, ii, jj in by_name.values()]

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_groups", None)   # derived from ``symbolic``; rebuilt on load
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._rebuild_groups()

    def _apply(self, fn, *args, **kwargs):
        # knots are a function of the grid (recomputed after dtype changes, so
        # that a converted model equals a loaded one); index tensors follow the device
        out = super()._apply(fn, *args, **kwargs)
        self.knots = extend_grid(self.grid, self.k)
        self._rebuild_groups()
        return out

    def _symbolic_values(self, x: torch.Tensor, fn, ii, jj) -> torch.Tensor:
        """Values of the symbolic edges (ii, jj)."""
        p = self.sym_params[ii, jj]
        return ((p[:, 2] * fn(p[:, 0] * x[:, ii] + p[:, 1]) + p[:, 3])
                * self.mask[ii, jj])

    # -------------------------------------------------------------- forward
    def _spline_live(self) -> torch.Tensor:
        """(n_in, n_out): 1 where an edge is live and a spline (not pruned, not symbolic)."""
        return self.mask * (1.0 - self.sym_mask)

    def has_spline_edges(self, first: int = 0, stop: int | None = None) -> bool:
        """Whether any live edge from inputs ``first``..``stop - 1`` is still a spline."""
        return bool(self._spline_live()[first:stop].any())

    def _effective_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        live = self._spline_live()
        w_base = self.scale_base * live
        w_sp = self.coef * (self.scale_sp * live).unsqueeze(-1)
        return w_base, w_sp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_in) -> (batch, n_out).

        The same values as ``input_part(0, n_in)(x)``, but not written as it:
        the two create their autograd nodes in another order (basis before
        SiLU here), so with symbolic edges the gradient of ``x`` sums its
        three or more terms in another order (last bits, checked), and the
        committed tabular and recurrent studies were each made with their own.
        """
        w_base, w_sp = self._effective_weights()
        if self._groups and not self.has_spline_edges():
            out = x.new_zeros(x.shape[0], self.n_out)     # every live edge is symbolic
        else:
            basis = bspline_basis(x, self.knots, self.k)      # (batch, n_in, nb)
            out = torch.addmm(F.silu(x) @ w_base,
                              basis.reshape(x.shape[0], -1),
                              w_sp.permute(0, 2, 1).reshape(-1, self.n_out))
        for fn, ii, jj in self._groups:
            out = out.index_add(1, jj, self._symbolic_values(x, fn, ii, jj))
        return out

    def input_part(self, first: int, n: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The part of :meth:`forward` that comes from inputs ``first``, ...,
        ``first + n - 1``: a function mapping those inputs (batch, n) to the
        sum over their edges (batch, n_out).

        Output j is a sum over inputs, so the parts over disjoint input ranges
        add up to :meth:`forward`.  A recurrent map evaluates its input part
        for every time step at once and only the state part in the time loop:
        the function holds that part's weights and knot factors, made once
        (with gradients to the weights), so each call costs only the basis and
        one matmul.  Build it again after the weights change.
        """
        stop = first + n
        if not (0 <= first < stop <= self.n_in):
            raise IndexError(f"inputs {first}..{stop - 1} are not inputs of a layer "
                             f"with {self.n_in}")
        groups = []
        for fn, ii, jj in self._groups:
            inside = (ii >= first) & (ii < stop)
            if bool(inside.any()):
                ii, jj = ii[inside], jj[inside]
                p, m = self.sym_params[ii, jj], self.mask[ii, jj]
                # (c f(a x + b) + d) m with m in {0, 1} folded into c and d
                groups.append((fn, ii - first, jj, p[:, 0], p[:, 1], p[:, 2] * m, p[:, 3] * m))
        if self.has_spline_edges(first, stop):
            w_base, w_sp = self._effective_weights()
            w_base = w_base[first:stop]
            w_sp = w_sp[first:stop].permute(0, 2, 1).reshape(-1, self.n_out)
            plan = BasisPlan(self.knots[first:stop], self.k)

            def splines(x: torch.Tensor) -> torch.Tensor:
                return torch.addmm(F.silu(x) @ w_base, plan.basis(x).reshape(x.shape[0], -1),
                                   w_sp)
        else:                       # every live edge of the range is symbolic
            def splines(x: torch.Tensor) -> torch.Tensor:
                return x.new_zeros(x.shape[0], self.n_out)

        def part(x: torch.Tensor) -> torch.Tensor:
            out = splines(x)
            for fn, cols, jj, a, b, c, d in groups:
                out = out.index_add(1, jj, c * fn(a * x[:, cols] + b) + d)
            return out
        return part

    def spline_values(self, x: torch.Tensor) -> torch.Tensor:
        """Unscaled spline part of every edge: (batch, n_in, n_out)."""
        return torch.einsum("bim,iom->bio", bspline_basis(x, self.knots, self.k), self.coef)

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        r"""Every edge's output :math:`\phi_{ij}(x_i)`: (batch, n_in, n_out).

        Costs ``batch * n_in * n_out`` memory: call it on a subsample.
        """
        w_base, w_sp = self._effective_weights()
        basis = bspline_basis(x, self.knots, self.k)
        acts = F.silu(x).unsqueeze(-1) * w_base + torch.einsum("bim,iom->bio", basis, w_sp)
        if self._groups:
            sym = torch.zeros_like(acts)
            for fn, ii, jj in self._groups:
                sym[:, ii, jj] = self._symbolic_values(x, fn, ii, jj)
            acts = acts + sym
        return acts

    # ----------------------------------------------------------- grid fits
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02,
                    margin: float = 0.0) -> None:
        r"""Move the knots to where the inputs ``x`` (batch, n_in) live.

        New grid = ``grid_eps`` * uniform grid over [min, max] of x plus
        ``(1 - grid_eps)`` * the grid of sample quantiles; then the spline
        coefficients are refitted (least squares on the samples and on a
        uniform sweep of the old range) so each edge's function is preserved.
        """
        G = self.num_grid
        xs = torch.sort(x.detach(), dim=0).values
        n = xs.shape[0]
        q = torch.linspace(0, n - 1, G + 1, dtype=torch.float64).round().long()
        adaptive = xs[q].T                                       # (n_in, G + 1)
        lo, hi = xs[0] - margin, xs[-1] + margin
        span = (hi - lo).clamp_min(1e-4)
        hi = lo + span
        steps = torch.linspace(0, 1, G + 1, dtype=x.dtype)
        uniform = lo[:, None] + span[:, None] * steps[None, :]
        new_grid = grid_eps * uniform + (1 - grid_eps) * adaptive
        # enforce strictly increasing knots (ties in the data)
        min_gap = (span / G * 1e-3)[:, None]
        new_grid = torch.maximum(new_grid, torch.cummax(new_grid, dim=1).values)
        gaps = torch.maximum(new_grid.diff(dim=1), min_gap)
        new_grid = torch.cat([new_grid[:, :1], new_grid[:, :1] + gaps.cumsum(1)], 1)
        sweep = lo[None, :] + span[None, :] * torch.linspace(
            0, 1, 4 * (G + self.k) + 1, dtype=x.dtype)[:, None]
        pts = torch.cat([x.detach(), sweep.to(x.dtype)], 0)
        y = self.spline_values(pts)
        self.set_grid(new_grid)
        self.coef.copy_(curve_to_coef(pts, y, self.knots, self.k))

    @torch.no_grad()
    def refit_from(self, other: "KANLayer", x: torch.Tensor) -> None:
        """Least-squares fit this layer's splines to ``other``'s on samples x.

        Masks, base weights, spline scales and symbolic edges are copied.
        """
        y = other.spline_values(x)
        self.coef.copy_(curve_to_coef(x, y.to(self.coef.dtype), self.knots, self.k))
        for name in ("scale_base", "scale_sp", "sym_params"):
            getattr(self, name).copy_(getattr(other, name))
        self.mask.copy_(other.mask)
        self.sym_mask.copy_(other.sym_mask)
        self.symbolic = dict(other.symbolic)
        self._rebuild_groups()

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, n_out={self.n_out}, grid={self.num_grid}, "
                f"k={self.k}, symbolic_edges={len(self.symbolic)}")

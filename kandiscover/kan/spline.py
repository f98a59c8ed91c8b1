r"""B-spline bases on per-input knot grids.

A KAN edge carries a spline :math:`s(x) = \sum_i c_i B_{i,k}(x)` of order
``k`` on a grid of ``G`` intervals :math:`g_0 < g_1 < \dots < g_G`.  The grid is
extended by ``k`` knots on each side (with the mean interval width
:math:`h = (g_G - g_0)/G`) so that all ``G + k`` basis functions are complete
on :math:`[g_0, g_G]`.  Bases follow the Cox-de Boor recursion

.. math::
    B_{i,0}(x) = [t_i \le x < t_{i+1}], \qquad
    B_{i,p}(x) = \frac{x - t_i}{t_{i+p} - t_i} B_{i,p-1}(x)
               + \frac{t_{i+p+1} - x}{t_{i+p+1} - t_{i+1}} B_{i+1,p-1}(x),

vectorized over samples and inputs (the only loop is over the order ``p``).
Outside the extended grid every basis function is 0 (never NaN): the SiLU
residual of the edge carries such inputs.

The derivative used in the backward pass is the classical identity

.. math::
    B'_{i,k}(x) = \frac{k}{t_{i+k} - t_i} B_{i,k-1}(x)
                - \frac{k}{t_{i+k+1} - t_{i+1}} B_{i+1,k-1}(x).
"""

from __future__ import annotations

import torch

__all__ = ["extend_grid", "uniform_grid", "bspline_basis", "BasisPlan", "curve_to_coef",
           "spline_eval"]


def uniform_grid(n_inputs: int, num: int, low: float, high: float,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A (n_inputs, num + 1) grid of ``num`` equal intervals on [low, high]."""
    g = torch.linspace(low, high, num + 1, dtype=dtype)
    return g.unsqueeze(0).repeat(n_inputs, 1)


def extend_grid(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Add ``k`` knots on each side of every row of ``grid`` (n_in, G + 1).

    The added knots are spaced by the row's mean interval width.
    """
    G = grid.shape[1] - 1
    h = (grid[:, -1:] - grid[:, :1]) / G
    steps = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)
    left = grid[:, :1] - h * steps.flip(0)
    right = grid[:, -1:] + h * steps
    return torch.cat([left, grid, right], dim=1)


class BasisPlan:
    """B-spline bases on fixed ``knots`` (n_in, m) of order ``k``.

    Holds the knot-only factors of the Cox-de Boor recursion, so a loop that
    evaluates the same knots many times (the time loop of a recurrent KAN)
    builds it once and calls :meth:`basis`; :func:`bspline_basis` builds one
    per call.  No gradient flows to the knots.
    """

    __slots__ = ("k", "t", "steps", "_d")

    def __init__(self, knots: torch.Tensor, k: int):
        t = knots.detach().unsqueeze(0)
        self.k, self.t = k, t
        # per order p: w_{i,p}(x) = (x - t_i) / (t_{i+p} - t_i) = x * inv + offset;
        # .reciprocal(): ``1.0 / tensor`` goes through Python's __rdiv__ (~20x slower)
        self.steps = []
        for p in range(1, k + 1):
            inv = (t[..., p:] - t[..., :-p]).reciprocal()
            self.steps.append((-t[..., :-p] * inv, inv))
        self._d: tuple[torch.Tensor, torch.Tensor] | None = None   # see derivative()

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """All basis functions at x (batch, n_in): (batch, n_in, G + k)."""
        if x.requires_grad:
            return _BSplineBasis.apply(x, self)
        return self.with_lower(x)[0]

    def with_lower(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bases of order k and k - 1 at x (batch, n_in).

        The recursion in the form ``B_{i,p} = u_i + B_{i+1,p-1} - u_{i+1}`` with
        ``u_i = w_{i,p} B_{i,p-1}`` (the right factor of Cox-de Boor is
        ``1 - w_{i+1,p}``): four tensor operations per order, as this runs
        once per time step of a recurrent KAN, where the operations' fixed
        costs dominate.  Order 0 is ``[x >= t_i] - [x >= t_{i+1}]``.
        """
        xe = x.unsqueeze(-1)
        above = (xe >= self.t).to(x.dtype)
        B = above[..., :-1] - above[..., 1:]
        lower = B
        for offset, inv in self.steps:
            lower = B
            u = torch.addcmul(offset, xe, inv).mul_(B)
            B = (B[..., 1:] - u[..., 1:]).add_(u[..., :-1])
        return B, lower

    def derivative(self, lower: torch.Tensor) -> torch.Tensor:
        """d basis / dx from the order k - 1 bases ``lower``."""
        if self._d is None:        # only backward passes need these; made once per plan
            t, k = self.t, self.k
            self._d = ((t[..., k:-1] - t[..., :-(k + 1)]).reciprocal() * k,
                       (t[..., k + 1:] - t[..., 1:-k]).reciprocal() * k)
        left, right = self._d
        return lower[..., :-1] * left - lower[..., 1:] * right


class _BSplineBasis(torch.autograd.Function):
    """Basis evaluation with an analytic derivative (one saved lower basis)."""

    @staticmethod
    def forward(ctx, x, plan):  # type: ignore[override]
        B, lower = plan.with_lower(x)
        ctx.save_for_backward(lower)
        ctx.plan = plan
        return B

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_B):  # type: ignore[override]
        (lower,) = ctx.saved_tensors
        return (grad_B * ctx.plan.derivative(lower)).sum(-1), None


def bspline_basis(x: torch.Tensor, knots: torch.Tensor, k: int) -> torch.Tensor:
    """Evaluate all B-spline basis functions.

    Parameters
    ----------
    x : (batch, n_in) tensor
    knots : (n_in, G + 2k + 1) extended knot vector per input (see ``extend_grid``)
    k : spline order (degree), >= 1

    Returns
    -------
    (batch, n_in, G + k) tensor; rows sum to 1 inside [g_0, g_G].  To evaluate
    the same knots many times, build a :class:`BasisPlan` once.
    """
    return BasisPlan(knots, k).basis(x)


def spline_eval(x: torch.Tensor, knots: torch.Tensor, coef: torch.Tensor,
                k: int) -> torch.Tensor:
    """Per-edge spline values: x (batch, n_in), coef (n_in, n_out, G + k)
    -> (batch, n_in, n_out)."""
    return torch.einsum("bik,iok->bio", bspline_basis(x, knots, k), coef)


def curve_to_coef(x: torch.Tensor, y: torch.Tensor, knots: torch.Tensor, k: int,
                  ridge: float = 1e-10) -> torch.Tensor:
    """Least-squares spline coefficients for samples of per-edge curves.

    Solves, for every input ``i`` and output ``j``,
    :math:`\\min_c \\sum_b (\\sum_m c_m B_m(x_{bi}) - y_{bij})^2 + \\rho\\|c\\|^2`
    with a tiny ridge :math:`\\rho` so that intervals without samples stay
    well defined.  Computed in float64 and returned in ``y``'s dtype.

    Parameters
    ----------
    x : (batch, n_in) sample locations
    y : (batch, n_in, n_out) curve values
    knots : (n_in, G + 2k + 1) extended knots
    """
    A = bspline_basis(x.detach().double(), knots.double(), k).permute(1, 0, 2)
    Y = y.detach().double().permute(1, 0, 2)
    AtA = A.transpose(1, 2) @ A
    scale = AtA.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-300)
    eye = torch.eye(AtA.shape[-1], dtype=AtA.dtype)
    AtA = AtA + (ridge * scale)[:, None, None] * eye
    coef = torch.linalg.solve(AtA, A.transpose(1, 2) @ Y)  # (n_in, nb, n_out)
    return coef.permute(0, 2, 1).to(y.dtype).contiguous()

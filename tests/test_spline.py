import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

from kandiscover.kan.spline import (BasisPlan, bspline_basis, curve_to_coef, extend_grid,
                                    spline_eval, uniform_grid)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_basis_matches_scipy_on_nonuniform_grid(k):
    rng = np.random.default_rng(1)
    inner = np.sort(np.concatenate([[-1.0, 1.0], rng.uniform(-0.9, 0.9, 6)]))
    grid = torch.tensor(inner)[None, :]
    knots = extend_grid(grid, k)
    x = torch.linspace(-1, 0.999, 200, dtype=torch.float64)[:, None]
    B = bspline_basis(x, knots, k)[:, 0, :].numpy()
    t = knots[0].numpy()
    n_basis = len(t) - k - 1
    assert B.shape[1] == n_basis == (len(inner) - 1) + k
    for m in range(n_basis):
        ref = BSpline.basis_element(t[m:m + k + 2], extrapolate=False)(x[:, 0].numpy())
        np.testing.assert_allclose(B[:, m], np.nan_to_num(ref), atol=1e-12)


def test_partition_of_unity_and_shape():
    knots = extend_grid(uniform_grid(4, 7, -2, 3, torch.float64), 3)
    x = torch.rand(500, 4, dtype=torch.float64) * 5 - 2
    B = bspline_basis(x, knots, 3)
    assert B.shape == (500, 4, 10)
    assert torch.allclose(B.sum(-1), torch.ones(500, 4, dtype=torch.float64), atol=1e-12)


def test_outside_grid_is_zero_not_nan():
    knots = extend_grid(uniform_grid(2, 5, -1, 1), 3)
    x = torch.tensor([[1e6, -1e6], [3.0, -40.0]])
    B = bspline_basis(x, knots, 3)
    assert torch.isfinite(B).all()
    assert (B == 0).all()


def test_analytic_gradient_matches_autograd_check():
    knots = extend_grid(uniform_grid(3, 6, -1, 1, torch.float64), 3)
    x = (torch.rand(20, 3, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: bspline_basis(v, knots, 3), (x,))


def test_a_reused_plan_gives_the_same_basis_and_gradient():
    knots = extend_grid(uniform_grid(3, 6, -1, 1, torch.float64), 3)
    plan = BasisPlan(knots, 3)
    x = (torch.rand(20, 3, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    for _ in range(2):  # the same plan twice
        torch.testing.assert_close(plan.basis(x), bspline_basis(x, knots, 3))
    assert torch.autograd.gradcheck(plan.basis, (x,))


def test_least_squares_fit_recovers_spline_exactly():
    gen = torch.Generator().manual_seed(0)
    knots = extend_grid(uniform_grid(2, 8, -1, 1, torch.float64), 3)
    coef = torch.randn(2, 3, 11, generator=gen, dtype=torch.float64)
    x = torch.rand(400, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = spline_eval(x, knots, coef, 3)
    fitted = curve_to_coef(x, y, knots, 3)
    assert torch.allclose(fitted, coef, atol=1e-6)
    assert fitted.dtype == torch.float64


def test_fit_of_smooth_curve_converges_with_grid():
    errs = []
    for G in (4, 8, 16):
        knots = extend_grid(uniform_grid(1, G, -1, 1, torch.float64), 3)
        x = torch.linspace(-1, 1, 500, dtype=torch.float64)[:, None]
        y = torch.sin(3 * x)[:, :, None]
        c = curve_to_coef(x, y, knots, 3)
        errs.append(float((spline_eval(x, knots, c, 3) - y).abs().max()))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-4

import random

import numpy as np
import pytest
import torch

import kandiscover as kd
from kandiscover.errors import InputError, InputTypeError


def test_forward_equals_sum_of_edge_activations():
    m = kd.KAN([3, 4, 2], seed=1, dtype="float64")
    x = torch.rand(64, 3, dtype=torch.float64) * 2 - 1
    nodes, _ = m.trace(x)
    for layer, h, h_next in zip(m.layers, nodes[:-1], nodes[1:]):
        acts = layer.edge_activations(h)
        assert acts.shape == (64, layer.n_in, layer.n_out)
        assert torch.allclose(acts.sum(1), layer(h), atol=1e-12)
    assert torch.allclose(nodes[-1], m(x))


def test_mask_removes_edge_and_symbolic_edge_computes_affine_function():
    m = kd.KAN([2, 3, 1], seed=0, dtype="float64")
    layer = m.layers[0]
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    before = layer.edge_activations(x)
    layer.mask[1, 2] = 0
    after = layer.edge_activations(x)
    assert (after[:, 1, 2] == 0).all()
    assert torch.equal(after[:, 0, 0], before[:, 0, 0])
    m.set_symbolic(0, 0, 1, torch.sin, (2.0, 0.5, 1.5, -0.25))
    acts = layer.edge_activations(x)
    expected = 1.5 * torch.sin(2.0 * x[:, 0] + 0.5) - 0.25
    assert torch.allclose(acts[:, 0, 1], expected, atol=1e-14)
    assert torch.allclose(acts.sum(1), layer(x), atol=1e-12)
    m.unfix(0, 0, 1, keep_spline=True)
    assert torch.allclose(layer.edge_activations(x)[:, 0, 1], before[:, 0, 1])


def test_input_parts_of_a_layer_add_up_to_its_forward():
    m = kd.KAN([5, 3], seed=2, dtype="float64")
    layer = m.layers[0]
    layer.mask[3, 1] = 0
    m.set_symbolic(0, 1, 2, torch.sin, (2.0, 0.5, 1.5, -0.25))
    m.set_symbolic(0, 4, 0, torch.sin, (1.0, 0.0, -0.5, 0.1))
    x = torch.rand(40, 5, dtype=torch.float64) * 2 - 1
    parts = layer.input_part(0, 2)(x[:, :2]) + layer.input_part(2, 3)(x[:, 2:])
    assert torch.allclose(parts, layer(x), atol=1e-12)
    # the symbolic edge of input 1 is in the first part only
    sym = 1.5 * torch.sin(2.0 * x[:, 1] + 0.5) - 0.25
    assert torch.allclose(layer.input_part(1, 1)(x[:, 1:2])[:, 2], sym, atol=1e-12)
    with pytest.raises(IndexError, match="inputs 3..5"):
        layer.input_part(3, 3)


def test_an_input_part_of_symbolic_edges_only_gives_the_forward_and_its_gradients():
    m = kd.KAN([3, 2], seed=4, dtype="float64")
    layer = m.layers[0]
    m.set_symbolic(0, 1, 0, torch.sin, (2.0, 0.5, 1.5, -0.25))
    m.set_symbolic(0, 1, 1, torch.tanh, (0.7, -0.1, 0.4, 0.3))
    m.set_symbolic(0, 2, 0, torch.sin, (1.0, 0.2, -0.5, 0.1))
    layer.mask[2, 1] = 0                      # input 2: one symbolic edge, one pruned edge
    x = torch.rand(30, 3, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        expected = layer(x) - layer.input_part(0, 1)(x[:, :1])
    params = [layer.sym_params, layer.coef, layer.scale_base]
    got = layer.input_part(1, 2)(x[:, 1:])
    assert torch.allclose(got, expected, atol=1e-12)
    # the part of inputs 1 and 2 has no spline edge left: no gradient reaches the splines
    grads = torch.autograd.grad(got.square().sum(), params, allow_unused=True)
    full = torch.autograd.grad((layer(x) - layer.input_part(0, 1)(x[:, :1]).detach()
                                ).square().sum(), params, allow_unused=True)
    assert torch.allclose(grads[0], full[0], atol=1e-10)
    assert grads[0][1:, :].abs().sum() > 0 and grads[0][2, 1].abs().sum() == 0
    assert grads[1] is None and grads[2] is None


@pytest.mark.parametrize("arity", [[2, 3], [3, 2], [4, 4]])
def test_multiplication_nodes_any_arity(arity):
    m = kd.KAN([3, (1, 2), 1], mult_arity=arity, seed=2, dtype="float64")
    assert m.layers[0].n_out == 1 + sum(arity)
    x = torch.rand(20, 3, dtype=torch.float64) * 2 - 1
    s = m.layers[0](x)
    expected = [s[:, 0]]
    start = 1
    for a in arity:
        expected.append(s[:, start:start + a].prod(1))
        start += a
    hidden = torch.stack(expected, 1)
    assert torch.allclose(m.trace(x)[0][1], hidden, atol=1e-14)
    assert torch.allclose(m(x), m.layers[1](hidden), atol=1e-14)


def test_mult_arity_forms_agree():
    a = kd.KAN([2, (1, 2), (0, 1), 1], mult_arity=[2, 3, 2], seed=0)
    b = kd.KAN([2, (1, 2), (0, 1), 1], mult_arity=[[], [2, 3], [2], []], seed=0)
    assert a.mult_arity == b.mult_arity == [[], [2, 3], [2], []]


def test_caller_width_untouched_and_no_global_rng():
    width = [2, [3, 1], 1]
    snapshot = [2, [3, 1], 1]
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    py_state = random.getstate()
    m = kd.KAN(width, seed=5)
    m.fit(np.random.default_rng(0).uniform(-1, 1, (40, 2)), np.zeros(40), steps=2,
          val_fraction=0.25, lamb=0.01, verbose=False)
    assert width == snapshot
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state


def test_same_seed_same_init_other_seed_differs():
    a, b, c = kd.KAN([2, 3, 1], seed=7), kd.KAN([2, 3, 1], seed=7), kd.KAN([2, 3, 1], seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.layers[0].coef, c.layers[0].coef)


@pytest.mark.parametrize("kwargs, err, words", [
    (dict(width=[2]), InputError, "width"),
    (dict(width=[2, 0, 1]), InputError, "width[1]"),
    (dict(width=[2, "a", 1]), InputTypeError, "width[1]"),
    (dict(width=[(2, 1), 1]), InputError, "width[0]"),
    (dict(width=[2, 3, 1], grid=0), InputError, "grid"),
    (dict(width=[2, 3, 1], k=0), InputError, "k"),
    (dict(width=[2, 3, 1], grid=2.5), InputTypeError, "grid"),
    (dict(width=[2, (1, 2), 1], mult_arity=1), InputError, "mult_arity"),
    (dict(width=[2, (1, 2), 1], mult_arity=[2, 2, 2]), InputError, "mult_arity"),
    (dict(width=[2, 3, 1], dtype="float16"), InputError, "dtype"),
    (dict(width=[2, 3, 1], grid_range=(1, -1)), InputError, "grid_range"),
])
def test_bad_constructor_arguments(kwargs, err, words):
    with pytest.raises(err, match=None) as info:
        kd.KAN(**kwargs)
    assert words in str(info.value)


def test_update_grid_moves_knots_and_preserves_function():
    m = kd.KAN([2, 4, 1], seed=0, dtype="float64")
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0.3, 0.2, 500), rng.uniform(-0.5, 0.5, 500)])
    before = m.predict(X)
    old = m.layers[0].grid.clone()
    m.update_grid(X)
    assert not torch.equal(old, m.layers[0].grid)
    assert m.layers[0].grid[0, 0] >= X[:, 0].min() - 1e-9
    assert m.layers[0].grid[0, -1] <= X[:, 0].max() + 1e-9
    assert np.max(np.abs(m.predict(X) - before)) < 1e-2 * np.max(np.abs(before))


def test_refine_returns_new_model_close_to_old():
    m = kd.KAN([2, 3, 1], grid=4, seed=0, dtype="float64")
    m.set_symbolic(0, 1, 2, torch.tanh, (1.0, 0.0, 2.0, 0.0))
    X = np.random.default_rng(1).uniform(-1, 1, (300, 2))
    m.update_grid(X)  # hidden activations now lie inside the grids
    fine = m.refine(12, X)
    assert fine is not m and fine.layers[0].num_grid == 12 and m.layers[0].num_grid == 4
    assert (1, 2) in fine.layers[0].symbolic
    assert np.max(np.abs(fine.predict(X) - m.predict(X))) < 1e-4 * np.max(np.abs(m.predict(X)))

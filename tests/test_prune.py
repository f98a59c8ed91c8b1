import numpy as np
import pytest
import torch

import kandiscover as kd
from kandiscover.errors import InputError, PruningError


@pytest.fixture(scope="module")
def one_input_matters():
    """y depends on x0 only: x1's edges should score ~0."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (500, 2))
    y = np.sin(np.pi * X[:, 0])
    m = kd.KAN([2, 3, 1], seed=0, dtype="float64")
    m.fit(X, y, steps=30, lamb=0.005, verbose=False)
    return m, X


def test_attribution_ranks_inputs(one_input_matters):
    m, X = one_input_matters
    att = m.attribution(X)
    assert att.input_scores[0] > 20 * att.input_scores[1]
    assert [e.shape for e in att.edge_scores] == [(2, 3), (3, 1)]
    np.testing.assert_allclose(att.node_scores[-1], [1.0])
    np.testing.assert_allclose(att.node_scores[0], att.edge_scores[0].sum(1))


def test_prune_removes_unused_input_edges(one_input_matters):
    m, X = one_input_matters
    pruned, report = m.prune(X)
    assert pruned.layers[0].mask[1].sum() == 0
    assert any(l == 0 and i == 1 for l, i, j, s in report.removed_edges)
    assert "removed" in str(report)
    assert m.layers[0].mask.sum() == 6  # original untouched
    err = np.abs(pruned.predict(X) - m.predict(X)).max()
    assert err < 0.1


def test_pruning_everything_raises_with_scores(one_input_matters):
    m, X = one_input_matters
    with pytest.raises(PruningError, match="would cut every path") as info:
        m.prune(X, edge_threshold=1.0, node_threshold=0.0)
    assert "Node scores" in str(info.value)


@pytest.mark.parametrize("kwargs", [dict(node_threshold=-0.1), dict(edge_threshold=1.5),
                                    dict(node_threshold=float("nan"))])
def test_thresholds_outside_unit_interval(one_input_matters, kwargs):
    m, X = one_input_matters
    with pytest.raises(InputError, match="threshold"):
        m.prune(X, **kwargs)


def test_prune_without_data_explains():
    with pytest.raises(InputError, match="pass X"):
        kd.KAN([2, 2, 1]).prune()


def test_prune_keeps_multiplication_nodes_and_symbolic_edges():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    m = kd.KAN([3, (2, 2), 1], mult_arity=[2, 3], seed=0, dtype="float64")
    m.set_symbolic(0, 2, 3, torch.sin, (1.0, 0.0, 1.0, 0.0))
    pruned, _ = m.prune(X, node_threshold=0.0, edge_threshold=0.0)
    assert pruned.width == m.width and pruned.mult_arity == m.mult_arity
    assert (2, 3) in pruned.layers[0].symbolic
    np.testing.assert_allclose(pruned.predict(X), m.predict(X), atol=1e-12)


def _product_with_a_flat_factor(scale=1.0):
    """(scale x0) (scale (2 + 1e-6 x1)) as a symbolic [2, (0, 1), 1] network."""
    m = kd.KAN([2, (0, 1), 1], seed=0, dtype="float64")
    with torch.no_grad():
        m.layers[0].mask.zero_()
        m.layers[0].mask[0, 0] = 1.0
        m.layers[0].mask[1, 1] = 1.0
    m.set_symbolic(0, 0, 0, "x", (1.0, 0.0, scale, 0.0))
    m.set_symbolic(0, 1, 1, "x", (1e-6, 0.0, scale, 2.0 * scale))
    m.set_symbolic(1, 0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    return m


def test_pruning_a_flat_factor_keeps_its_level_not_zero():
    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    m = _product_with_a_flat_factor()
    pruned, report = m.prune(X)
    assert [(l, i, j) for l, i, j, _ in report.removed_edges] == [(0, 1, 1)]
    # the flat edge is gone and its mean (2) went into the factor: 2 x0, not 0
    np.testing.assert_allclose(pruned.predict(X), 2 * X[:, :1], atol=1e-5)
    assert pruned.predict(X).std() > 0.5


def test_prune_scores_do_not_depend_on_the_units_of_the_data():
    # every activation 1e-9 times smaller: a fixed epsilon would dominate
    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    scores = [_product_with_a_flat_factor(s).attribution(X).edge_scores[0]
              for s in (1.0, 1e-9)]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)

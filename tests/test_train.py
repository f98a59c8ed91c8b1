import numpy as np
import pytest
import torch

import kandiscover as kd
from kandiscover.errors import InputError, InputTypeError


def rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X)[:, 0] - y) ** 2)))


def test_acceptance_dense_kan_reaches_1e3(law_data):
    X, y, Xt, yt = law_data
    m = kd.KAN([2, 5, 1], grid=5, k=3, seed=0, dtype="float64")
    hist = m.fit(X, y, steps=50, verbose=False)
    assert len(hist.train_loss) == 50 and hist.grid_updates[:2] == [0, 5]
    m = m.refine(10)
    m.fit(X, y, steps=50, update_grid=False, verbose=False)
    assert rmse(m, Xt, yt) < 1e-3


def test_acceptance_sparsify_prune_gives_2_1_1(law_data):
    X, y, Xt, yt = law_data
    m = kd.KAN([2, 5, 1], grid=5, k=3, seed=0, dtype="float64")
    hist = m.fit(X, y, steps=50, lamb=0.002, verbose=False)
    assert hist.reg[-1] > 0
    pruned, report = m.prune()
    assert pruned.width == [(2, 0), (1, 0), (1, 0)]
    assert int(pruned.layers[0].mask.sum()) == 2 and int(pruned.layers[1].mask.sum()) == 1
    assert m.width == [(2, 0), (5, 0), (1, 0)]  # the original is untouched
    assert len(report.removed_nodes) == 4 and report.width_after == [2, 1, 1]
    pruned.fit(X, y, steps=50, verbose=False)
    assert rmse(pruned, Xt, yt) < 1e-2


def test_grid_extension_lowers_loss_each_time():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (400, 1))
    y = np.sin(3 * X[:, 0]) + 0.5 * np.exp(X[:, 0])
    m = kd.KAN([1, 1], grid=3, k=3, seed=0, dtype="float64")
    losses = []
    for i, G in enumerate((3, 5, 10, 20)):
        if i:
            m = m.refine(G)
        hist = m.fit(X, y, steps=20, update_grid=(i == 0), verbose=False)
        losses.append(hist.train_loss[-1])
    assert all(a > b for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] / 50


def _trained_params(dtype, opt):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 2))
    y = np.sin(X[:, 0]) * X[:, 1]
    m = kd.KAN([2, (2, 1), 1], seed=11, dtype=dtype)
    m.fit(X, y, steps=8, opt=opt, lamb=1e-3, val_fraction=0.2, batch_size=128,
          verbose=False)
    return [p.detach().clone() for p in m.parameters()] + [m.layers[0].grid.clone()]


@pytest.mark.parametrize("dtype,opt", [("float32", "lbfgs"), ("float64", "adam")])
def test_same_seed_bitwise_identical(dtype, opt):
    a, b = _trained_params(dtype, opt), _trained_params(dtype, opt)
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_adam_minibatch_and_float32_learn():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (2000, 2)).astype(np.float32)
    y = X[:, 0] ** 2 + 0.5 * X[:, 1]
    m = kd.KAN([2, 3, 1], seed=0)
    hist = m.fit(X, y, opt="adam", steps=300, lr=0.02, batch_size=256, verbose=False)
    assert m.layers[0].coef.dtype == torch.float32
    assert hist.train_loss[-1] < 0.2 * hist.train_loss[0]


def test_validation_and_early_stopping_restore_best():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (60, 1))
    y = np.sin(2 * X[:, 0]) + rng.normal(0, 0.3, 60)
    m = kd.KAN([1, 8, 1], grid=10, seed=0, dtype="float64")
    hist = m.fit(X, y, steps=200, val_fraction=0.3, early_stopping=True, patience=5,
                 verbose=False)
    assert hist.stopped_early and len(hist.val_loss) < 200
    assert hist.val_loss[hist.best_step] == min(hist.val_loss)


@pytest.mark.parametrize("X, y, err, words", [
    (np.array([[0.1, np.nan], [0.2, 0.3]]), np.zeros(2), InputError, "NaN"),
    (np.array([[0.1, 0.2], [0.2, 0.3]]), np.array([1.0, np.inf]), InputError, "infinite"),
    (np.zeros((5, 2)), np.zeros(4), InputError, "rows"),
    (np.zeros((0, 2)), np.zeros(0), InputError, "zero rows"),
    (np.array([["a", "b"]]), np.zeros(1), InputTypeError, "numeric"),
    (np.zeros((5, 3)), np.zeros(5), InputError, "width[0]"),
    (np.zeros((5, 2)), np.zeros((5, 2)), InputError, "output"),
])
def test_bad_training_data(X, y, err, words):
    m = kd.KAN([2, 2, 1])
    with pytest.raises(err) as info:
        m.fit(X, y, steps=1, verbose=False)
    assert words in str(info.value)


def test_nan_message_names_column_and_rows():
    X = np.zeros((10, 2))
    X[[3, 7], 1] = np.nan
    with pytest.raises(InputError, match=r"X has 2 NaN values in column 1 \(rows 3, 7\)"):
        kd.KAN([2, 1]).fit(X, np.zeros(10), steps=1, verbose=False)


@pytest.mark.parametrize("kwargs, words", [
    (dict(opt="sgd"), "opt"), (dict(steps=0), "steps"), (dict(val_fraction=1.0), "val_fraction"),
    (dict(lamb=-1), "lamb"), (dict(early_stopping=True), "early_stopping"),
    (dict(lr=0), "lr"),
])
def test_bad_training_options(kwargs, words):
    with pytest.raises(InputError) as info:
        kd.KAN([1, 1]).fit(np.zeros((10, 1)), np.zeros(10), verbose=False, **kwargs)
    assert words in str(info.value)


def test_lamb_smooth_straightens_the_edges_and_reports_its_penalty():
    """The roughness penalty lowers the spline roughness of a fit on noisy data,
    is what History.reg reports (weight included), and is checked."""
    from kandiscover.sparsify.regularize import spline_roughness
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 1))
    y = np.sin(2 * X[:, 0]) + 0.3 * rng.normal(size=300)
    rough, regs = {}, {}
    for w in (0.0, 1e-2):
        m = kd.KAN([1, 1], grid=20, k=3, seed=0, dtype="float64")
        h = m.fit(X, y, steps=20, lamb_smooth=w, update_grid=False, verbose=False)
        rough[w], regs[w] = spline_roughness(m).item(), h.reg
    assert rough[1e-2] < 0.5 * rough[0.0]
    assert regs[0.0] == [0.0] * 20 and all(r > 0 for r in regs[1e-2])
    with pytest.raises(InputError, match="lamb_smooth"):
        kd.KAN([1, 1], seed=0).fit(X, y, steps=1, lamb_smooth=-1.0, verbose=False)

"""Recurrent baselines (RNN, LSTM, TKAN): learning, determinism, early
stopping, the TKAN equations, input validation, no mutation of the caller's data."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from torch import nn

from kandiscover.compare.recurrent import (LSTMClassifier, RNNClassifier, TKANClassifier,
                                           train_sequence_classifier)
from kandiscover.errors import InputError, TrainingError

CLASSES = [RNNClassifier, LSTMClassifier, TKANClassifier]


def _toy(n=768, T=10, seed=0):
    """Label 1 when the mean of feature 0 over the last 5 steps is positive;
    feature 1 is noise with another scale and offset."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    X[:, :, 1] = 3.0 + 5.0 * X[:, :, 1]
    Y = (X[:, -5:, 0].mean(1) > 0)[:, None]
    return X, Y


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny batches run ~10x faster on one thread than on two busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def toy():
    X, Y = _toy(1024)
    return X[:768], Y[:768], X[768:], Y[768:]


class _MeanModule(nn.Module):
    """Logits from the time-mean of the sequence: a tiny module for the loop tests."""

    def __init__(self, n_features=2, n_labels=1, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(n_features, n_labels, generator=g))
        self.b = nn.Parameter(torch.zeros(n_labels))

    def forward(self, z):
        return z[:, -5:].mean(1) @ self.w + self.b


# -------------------------------------------------------------------- learning
@pytest.mark.parametrize("cls", CLASSES)
def test_learns_easy_task(cls, toy):
    X, Y, Xt, Yt = toy
    m = cls(2, hidden_size=8, seed=0).fit(X, Y, epochs=12, batch_size=64, lr=2e-2)
    p = m.predict_proba(Xt)
    assert p.shape == (len(Xt), 1) and np.all((p > 0) & (p < 1))
    assert roc_auc_score(Yt[:, 0], p[:, 0]) > 0.9
    h = m.history_
    assert len(h["train_loss"]) == 12 and len(h["seconds"]) == 12
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["best_epoch"] is None and h["val_loss"] == [] and not h["stopped_early"]
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-m.decision_function(Xt))), rtol=1e-12)


@pytest.mark.parametrize("cls", CLASSES)
def test_two_outputs_and_normalization(cls):
    X, Y = _toy(64, T=6)
    Y2 = np.hstack([Y, ~Y])
    m = cls(2, output_size=2, hidden_size=4, seed=1).fit(X, Y2, epochs=1)
    assert m.predict_proba(X[:5]).shape == (5, 2)
    assert m.decision_function(X[:5], batch_size=2).shape == (5, 2)
    np.testing.assert_allclose(m.x_mean_, X.reshape(-1, 2).mean(0))
    np.testing.assert_allclose(m.x_std_, X.reshape(-1, 2).std(0))
    assert m.n_features_in_ == 2


def test_one_dimensional_labels_and_constant_feature():
    X, Y = _toy(64, T=6)
    X[:, :, 1] = 7.0
    m = LSTMClassifier(2, hidden_size=4).fit(X, Y[:, 0].astype(int), epochs=1)
    assert m.x_std_[1] == 1.0
    assert np.all(np.isfinite(m.predict_proba(X)))


# ----------------------------------------------------------------- determinism
@pytest.mark.parametrize("cls", CLASSES)
def test_same_seed_same_predictions_and_global_rng_untouched(cls):
    X, Y = _toy(200, T=8)
    state = torch.random.get_rng_state()
    a = cls(2, hidden_size=6, seed=3).fit(X[:150], Y[:150], X[150:], Y[150:], epochs=2)
    b = cls(2, hidden_size=6, seed=3).fit(X[:150], Y[:150], X[150:], Y[150:], epochs=2)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert a.history_["val_loss"] == b.history_["val_loss"]


@pytest.mark.parametrize("cls", CLASSES)
def test_different_seeds_differ(cls):
    X, Y = _toy(100, T=6)
    a = cls(2, hidden_size=6, seed=0).fit(X, Y, epochs=1)
    b = cls(2, hidden_size=6, seed=1).fit(X, Y, epochs=1)
    assert not np.allclose(a.predict_proba(X), b.predict_proba(X))


def test_refit_starts_afresh():
    X, Y = _toy(100, T=6)
    m = RNNClassifier(2, hidden_size=4, seed=2)
    p1 = m.fit(X, Y, epochs=2).predict_proba(X)
    p2 = m.fit(X, Y, epochs=2).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)


# -------------------------------------------------------------- training loop
def test_early_stopping_restores_best_weights():
    X, Y = _toy(400, T=8)
    Z = (X - X.reshape(-1, 2).mean(0)) / X.reshape(-1, 2).std(0)
    # validation labels are the opposite rule: the better the fit, the worse val
    Zv, Yv = Z[300:], ~Y[300:]
    module = _MeanModule()
    h = train_sequence_classifier(module, Z[:300], Y[:300], Zv, Yv, epochs=30,
                                  batch_size=32, lr=5e-2, patience=3, seed=0)
    assert h["stopped_early"]
    best = int(np.argmin(h["val_loss"]))
    assert h["best_epoch"] == best
    assert len(h["val_loss"]) == best + 3 + 1 < 30
    assert h["val_loss"][-1] > h["val_loss"][best]
    with torch.no_grad():
        logits = module(torch.as_tensor(Zv, dtype=torch.float32))
        v = float(nn.functional.binary_cross_entropy_with_logits(
            logits, torch.as_tensor(Yv, dtype=torch.float32)))
    assert v == pytest.approx(h["val_loss"][best], rel=1e-5)


def test_classifier_keeps_best_epoch():
    X, Y = _toy(300, T=8)
    m = LSTMClassifier(2, hidden_size=4, seed=0).fit(X[:200], Y[:200], X[200:], ~Y[200:],
                                                     epochs=15, lr=5e-2, patience=2)
    h = m.history_
    assert h["stopped_early"] and h["best_epoch"] == int(np.argmin(h["val_loss"]))
    p = m.predict_proba(X[200:])[:, 0]
    y = (~Y[200:, 0]).astype(float)
    v = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert v == pytest.approx(min(h["val_loss"]), rel=1e-4)


def test_hooks_are_called():
    X, Y = _toy(100, T=6)
    calls, batches = [], []

    def penalty(z):
        batches.append(z.shape)
        return 0.5 * (module.w ** 2).sum()

    module = _MeanModule()
    h = train_sequence_classifier(module, X, Y, epochs=3, batch_size=40, seed=0,
                                  before_epoch=calls.append, penalty=penalty)
    assert calls == [0, 1, 2]
    assert len(batches) == 9 and batches[0] == (40, 6, 2) and batches[2] == (20, 6, 2)
    assert all(p > 0 for p in h["penalty"])
    # a strong penalty shrinks the weights compared with no penalty
    free = _MeanModule()
    train_sequence_classifier(free, X, Y, epochs=3, batch_size=40, seed=0)
    assert float(module.w.detach().norm()) < float(free.w.detach().norm())


def test_cosine_schedule_follows_the_closed_form_across_optimizer_resets():
    X, Y = _toy(100, T=6)
    h = train_sequence_classifier(_MeanModule(), X, Y, epochs=6, lr=0.1, seed=0,
                                  lr_schedule="cosine",
                                  before_epoch=lambda e: e in (0, 3))  # fresh Adam twice
    want = [0.05 * (1 + np.cos(np.pi * e / 6)) for e in range(6)]
    assert h["lr"] == pytest.approx(want, rel=1e-12)
    const = train_sequence_classifier(_MeanModule(), X, Y, epochs=3, lr=0.1, seed=0)
    assert const["lr"] == [0.1] * 3
    m = RNNClassifier(2, hidden_size=2, seed=0).fit(X, Y, epochs=2, lr=0.1,
                                                     lr_schedule="cosine")
    assert m.history_["lr"] == pytest.approx([0.1, 0.05])


def test_plateau_schedule_halves_the_rate_when_validation_stalls():
    X, Y = _toy(400, T=8)
    Z = (X - X.reshape(-1, 2).mean(0)) / X.reshape(-1, 2).std(0)
    # the opposite rule on validation: the loss rises from the first epoch on
    kw = dict(epochs=12, batch_size=32, lr=5e-2, patience=12, seed=0)
    h = train_sequence_classifier(_MeanModule(), Z[:300], Y[:300], Z[300:], ~Y[300:],
                                  lr_schedule="plateau", lr_patience=2, **kw)
    worse = np.diff(h["val_loss"]) > 0
    assert worse[:4].all()          # epochs 1, 2 stall -> halved for epoch 3, ...
    assert h["lr"][:5] == pytest.approx([5e-2, 5e-2, 5e-2, 2.5e-2, 2.5e-2])
    assert min(h["lr"]) < 5e-3
    # the count runs against the best epoch so far, across optimizer resets
    reset = train_sequence_classifier(_MeanModule(), Z[:300], Y[:300], Z[300:], ~Y[300:],
                                      lr_schedule="plateau", lr_patience=2,
                                      before_epoch=lambda e: True, **kw)
    assert reset["lr"] == h["lr"]
    with pytest.raises(InputError, match="validation data"):
        train_sequence_classifier(_MeanModule(), X, Y, epochs=1, lr_schedule="plateau")
    with pytest.raises(InputError, match="together"):
        train_sequence_classifier(_MeanModule(), X, Y, Y_val=Y, epochs=1,
                                  lr_schedule="plateau")
    with pytest.raises(InputError, match="lr_schedule must be one of"):
        train_sequence_classifier(_MeanModule(), X, Y, epochs=1, lr_schedule="step")
    with pytest.raises(InputError, match="lr_patience"):
        train_sequence_classifier(_MeanModule(), X, Y, X, Y, epochs=1,
                                  lr_schedule="plateau", lr_patience=0)


def test_divergence_and_shape_mismatch_are_reported():
    X, Y = _toy(50, T=6)
    with pytest.raises(TrainingError, match="diverged"):
        train_sequence_classifier(_MeanModule(), X, Y, epochs=1,
                                  penalty=lambda z: torch.tensor(float("nan")))
    with pytest.raises(InputError, match="logits of shape"):
        train_sequence_classifier(_MeanModule(n_labels=2), X, Y, epochs=1)
    with pytest.raises(InputError, match="given together"):
        train_sequence_classifier(_MeanModule(), X, Y, X_val=X, epochs=1)


# ------------------------------------------------------------ TKAN equations
def test_tkan_module_follows_the_equations():
    m = TKANClassifier(2, output_size=1, hidden_size=3, n_sub_layers=2, sub_input_dim=2,
                       sub_output_dim=3, candidate="sigmoid")
    mod = m._build(torch.Generator().manual_seed(0))
    z = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(1))
    H, L, din, dout = 3, 2, 2, 3
    with torch.no_grad():
        # block-diagonal structure: sub-layer l's inputs feed only its outputs
        assert torch.equal(mod.kan.mask, torch.block_diag(torch.ones(2, 3), torch.ones(2, 3)))
        h = torch.zeros(4, H)
        c = torch.zeros(4, H)
        subs = [torch.zeros(4, dout) for _ in range(L)]
        Wsh = mod.sub_h * mod.sub_h_mask
        for t in range(3):
            g = z[:, t] @ mod.gate_x.T + h @ mod.gate_h.T + mod.gate_b
            i, f, cand = (torch.sigmoid(g[:, j * H:(j + 1) * H]) for j in range(3))
            c = f * c + i * cand
            outs = []
            for l in range(L):
                rows, cols = slice(l * din, (l + 1) * din), slice(l * dout, (l + 1) * dout)
                s = z[:, t] @ mod.sub_x[rows].T + subs[l] @ Wsh[cols, rows]
                full = torch.zeros(4, L * din)
                full[:, rows] = s
                # the sub-layer's own edges only
                o_l = mod.kan.edge_activations(full)[:, rows, cols].sum(1)
                subs[l] = mod.mem_z[cols] * o_l + mod.mem_h[cols] * subs[l]
                outs.append(o_l)
            o = torch.sigmoid(torch.cat(outs, 1) @ mod.out_w.T + mod.out_b)
            h = o * torch.tanh(c)
        hT, cT, mT = mod.states(z)
        torch.testing.assert_close(hT, h)
        torch.testing.assert_close(cT, c)
        torch.testing.assert_close(mT, torch.cat(subs, 1))
        torch.testing.assert_close(mod(z), mod.head(h))
        assert bool((cT >= 0).all())           # sigmoid candidate: c stays >= 0


def test_tkan_tanh_candidate_and_parameters():
    X, Y = _toy(64, T=6)
    m = TKANClassifier(2, hidden_size=4, candidate="tanh", n_sub_layers=1, grid=3, k=2,
                       grid_range=(-3, 3)).fit(X, Y, epochs=1)
    assert m.module_.kan.n_in == 2 and m.module_.kan.num_grid == 3
    p = m.get_params()
    assert p["candidate"] == "tanh" and p["grid_range"] == (-3, 3)
    c = clone(m)
    assert c.get_params() == p and not hasattr(c, "module_")
    with pytest.raises(InputError, match="candidate"):
        TKANClassifier(2, candidate="relu").fit(X, Y, epochs=1)
    with pytest.raises(InputError, match="grid_range"):
        TKANClassifier(2, grid_range=(1, -1)).fit(X, Y, epochs=1)
    with pytest.raises(InputError, match="no parameter"):
        m.set_params(units=3)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("cls", CLASSES)
def test_predict_before_fit(cls):
    with pytest.raises(NotFittedError, match="not fitted"):
        cls(2).predict_proba(np.zeros((3, 4, 2)))


def test_bad_inputs():
    X, Y = _toy(20, T=5)
    m = LSTMClassifier(2, hidden_size=4)
    Xn = X.copy()
    Xn[3, 1, 0] = np.nan
    Xn[7, 2, 1] = np.nan
    with pytest.raises(InputError, match=r"X has 2 non-finite \(NaN\).*sequences 3, 7"):
        m.fit(Xn, Y)
    Xi = X.copy()
    Xi[5, 0, 0] = np.inf
    with pytest.raises(InputError, match="infinite.*sequences 5"):
        m.fit(Xi, Y)
    with pytest.raises(InputError, match="3-D"):
        m.fit(X[:, :, 0], Y)
    with pytest.raises(InputError, match="3 features per step.*input_size is 2"):
        m.fit(np.zeros((20, 5, 3)), Y)
    with pytest.raises(InputError, match="empty"):
        m.fit(np.zeros((0, 5, 2)), Y[:0])
    with pytest.raises(InputError, match="binary labels"):
        m.fit(X, Y * 2.0)
    with pytest.raises(InputError, match="19 rows but there are 20 sequences"):
        m.fit(X, Y[:19])
    with pytest.raises(InputError, match="shape"):
        m.fit(X, np.hstack([Y, Y]))
    with pytest.raises(InputError, match="given together"):
        m.fit(X, Y, X_val=X)
    with pytest.raises(InputError, match="X_val has 1 features"):
        m.fit(X, Y, X[:, :, :1], Y)
    with pytest.raises(InputError, match="hidden_size"):
        LSTMClassifier(2, hidden_size=0).fit(X, Y)
    m.fit(X, Y, epochs=1)
    with pytest.raises(InputError, match="3 features per step"):
        m.predict_proba(np.zeros((2, 5, 3)))
    with pytest.raises(InputError, match="NaN"):
        m.decision_function(Xn)


@pytest.mark.parametrize("cls", CLASSES)
def test_numpy_integer_sizes_and_set_params_after_fit(cls):
    X, Y = _toy(40, T=5)
    m = cls(np.int64(2), hidden_size=np.int64(3)).fit(X, Y, epochs=1)
    p = m.predict_proba(X)
    # a new input_size takes effect at the next fit, not on the fitted network
    m.set_params(input_size=3)
    np.testing.assert_array_equal(m.predict_proba(X), p)
    with torch.no_grad():                       # fit trains under no_grad too
        m.set_params(input_size=2).fit(X, Y, epochs=1)
    assert m.history_["train_loss"]


@pytest.mark.parametrize("cls", CLASSES)
def test_does_not_mutate_input(cls):
    X, Y = _toy(60, T=6)
    X32 = X.astype(np.float32)
    Xc, Yc, X32c = X.copy(), Y.copy(), X32.copy()
    m = cls(2, hidden_size=4).fit(X, Y, X32, Y, epochs=1)
    m.predict_proba(X)
    m.decision_function(X32)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)
    np.testing.assert_array_equal(X32, X32c)
    assert Y.dtype == bool and X32.dtype == np.float32

"""The official seqkan package as a baseline (OfficialSeqKAN).

Tests that run the package skip when it is not installed (CI does not install
the ``bench`` extra); the missing-package behaviour is tested without it.
"""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from kandiscover.compare.seqkan_official import OfficialSeqKAN, available
from kandiscover.errors import InputError


def _toy(n=64, T=6, seed=0):
    """Label 1 when the sum of the first feature over the sequence is positive."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    Y = (X[:, :, 0].sum(1) > 0)[:, None]
    return X, Y


@pytest.fixture(autouse=True)
def _cwd_untouched():
    """The package writes ./model when a model is built: check that the
    working directory is the same and still empty afterwards (conftest runs
    every test in an empty folder)."""
    before = os.getcwd()
    assert os.listdir(before) == []
    yield
    assert os.getcwd() == before, "the working directory was not restored"
    assert os.listdir(before) == [], f"files written into the cwd: {os.listdir(before)}"


def _needs_seqkan():
    pytest.importorskip("seqkan")


def test_tiny_fit_shapes_probabilities_and_global_rngs():
    _needs_seqkan()
    X, Y = _toy()
    torch_state, np_state, py_state = (torch.random.get_rng_state(),
                                       np.random.get_state(), random.getstate())
    m = OfficialSeqKAN(2, seed=0).fit(X, Y, X[:16], Y[:16], epochs=2, batch_size=16)
    assert m is not None and len(m.history_.train_loss) == 2
    assert len(m.history_.val_loss) == 2 and m.n_windows_ == 64
    p = m.predict_proba(X)
    assert p.shape == (64, 1) and p.dtype == np.float64
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.isfinite(p))
    logits = m.decision_function(X[:5])
    np.testing.assert_allclose(p[:5], 1 / (1 + np.exp(-logits)), rtol=1e-6)
    # the package reseeds the global generators; the wrapper restores them
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state


def test_same_seed_same_model_and_wide_variant_two_outputs():
    _needs_seqkan()
    X, Y = _toy(T=4)
    Y2 = np.c_[Y, ~Y]
    a = OfficialSeqKAN(2, output_size=2, hidden_size=2, variant="wide").fit(
        X, Y2, epochs=1, batch_size=16, max_windows=40)
    b = OfficialSeqKAN(2, output_size=2, hidden_size=2, variant="wide").fit(
        X, Y2, epochs=1, batch_size=16, max_windows=40)
    assert a.n_windows_ == 40
    pa = a.predict_proba(X)
    assert pa.shape == (64, 2) and np.all((pa >= 0) & (pa <= 1))
    assert np.array_equal(pa, b.predict_proba(X))


def test_input_errors_name_the_argument():
    _needs_seqkan()
    X, Y = _toy(n=8, T=3)
    with pytest.raises(InputError, match="input_size"):
        OfficialSeqKAN(3).fit(X, Y, epochs=1)
    with pytest.raises(InputError, match="Y"):
        OfficialSeqKAN(2).fit(X, Y[:5], epochs=1)
    with pytest.raises(InputError, match="variant"):
        OfficialSeqKAN(2, variant="deep").fit(X, Y, epochs=1)
    with pytest.raises(InputError, match="X_val and Y_val"):
        OfficialSeqKAN(2).fit(X, Y, X, epochs=1)


def test_missing_package_is_reported_clearly(monkeypatch):
    """Needs no seqkan: an import that fails gives (False, reason) and a fit
    error that names the install command."""
    monkeypatch.setitem(sys.modules, "seqkan", None)   # makes `import seqkan` fail
    ok, reason = available()
    assert ok is False and "seqkan" in reason and "kandiscover[bench]" in reason
    assert OfficialSeqKAN.available() == (ok, reason)
    X, Y = _toy(n=8, T=3)
    with pytest.raises(InputError, match=r"pip install 'kandiscover\[bench\]'"):
        OfficialSeqKAN(2).fit(X, Y, epochs=1)


def test_importing_the_wrapper_does_not_import_seqkan():
    code = ("import sys; import kandiscover, kandiscover.compare.seqkan_official; "
            "print('seqkan' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_not_fitted():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError, match="fit"):
        OfficialSeqKAN(2).predict_proba(np.zeros((1, 3, 2)))

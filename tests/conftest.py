import numpy as np
import pytest


def law(X):
    return np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)


@pytest.fixture(scope="session")
def law_data():
    """exp(sin(pi x) + y^2): 1000 training and 1000 test points on [-1, 1]^2."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1000, 2))
    Xt = rng.uniform(-1, 1, (1000, 2))
    return X, law(X), Xt, law(Xt)


@pytest.fixture(autouse=True)
def _no_stray_files(tmp_path, monkeypatch):
    """Run every test in an empty folder and check nothing was written there
    unless the test wrote it on purpose under tmp_path / 'out'."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    assert sorted(p.name for p in work.iterdir()) == [], "a test wrote files into the cwd"

import numpy as np
import pytest
import torch

import kandiscover as kd
from kandiscover.errors import InputError


@pytest.fixture(scope="module")
def pruned_with_symbolic():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 2))
    m = kd.KAN([2, 3, 1], seed=0)
    m.fit(X, np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2, steps=5, verbose=False)
    m.layers[0].mask[1, 0] = 0
    m.set_symbolic(0, 0, 1, torch.sin, (3.14, 0.0, 1.0, 0.0), name="sin")
    return m, X


def test_png_and_svg(tmp_path, pruned_with_symbolic):
    m, X = pruned_with_symbolic
    png = tmp_path / "net.png"
    fig = kd.plot(m, png, X=X, in_vars=["x", "y"], out_vars=["f"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes
    svg = tmp_path / "net.svg"
    kd.plot(m, svg)
    text = svg.read_text()
    assert "<svg" in text and "sin" in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["net.png", "net.svg"]
    # the package attribute stays the function after the lazy import
    assert callable(kd.plot) and kd.plot(m) is not None


def test_multiplication_nodes_plot(tmp_path):
    m = kd.KAN([3, (2, 2), 1], mult_arity=[2, 3], seed=1)
    kd.plot(m, tmp_path / "mult.png")
    assert (tmp_path / "mult.png").stat().st_size > 1000


def test_bad_suffix(tmp_path, pruned_with_symbolic):
    m, _ = pruned_with_symbolic
    with pytest.raises(InputError, match=".bmp"):
        kd.plot(m, tmp_path / "net.bmp")
    assert list(tmp_path.iterdir()) == [tmp_path / "cwd"] or not any(
        p.suffix == ".bmp" for p in tmp_path.iterdir())

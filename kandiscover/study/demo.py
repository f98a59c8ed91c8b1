"""The main job for now: learn f(x, y) = exp(sin(pi x) + y^2) with a KAN,
sparsify and prune it to its [2, 1, 1] skeleton, and draw it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.store import save
from ..kan.network import KAN

LAW = "exp(sin(pi*x) + y**2)"


def law(X: np.ndarray) -> np.ndarray:
    return np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)


@dataclass
class DemoResult:
    test_rmse_dense: float
    test_rmse_pruned: float
    width_pruned: list
    seconds: float
    model_path: Path
    plot_path: Path


def _rmse(model: KAN, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((model.predict(X)[:, 0] - y) ** 2)))


def run(out_dir: str | Path = "demo_output", seed: int = 0, n_train: int = 1000,
        verbose: bool = True) -> DemoResult:
    """Train, sparsify, prune, retrain and plot; write model.h5 and net.png
    into ``out_dir``; print a summary."""
    say = print if verbose else (lambda *a, **k: None)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_train, 2))
    Xt = rng.uniform(-1, 1, (1000, 2))
    y, yt = law(X), law(Xt)
    say(f"law: f(x, y) = {LAW}, {n_train} training samples on [-1, 1]^2")

    dense = KAN([2, 5, 1], grid=5, k=3, seed=seed, dtype="float64")
    dense.fit(X, y, steps=50, verbose=verbose)
    dense = dense.refine(10)
    dense.fit(X, y, steps=50, update_grid=False, verbose=verbose)
    rmse_dense = _rmse(dense, Xt, y=yt)
    say(f"[2, 5, 1] KAN, grid 5 -> 10: test RMSE {rmse_dense:.2e}")

    sparse = KAN([2, 5, 1], grid=5, k=3, seed=seed, dtype="float64")
    sparse.fit(X, y, steps=50, lamb=0.002, verbose=verbose)
    pruned, report = sparse.prune()
    say(str(report).splitlines()[0])
    pruned.fit(X, y, steps=50, verbose=verbose)
    pruned = pruned.refine(10)
    pruned.fit(X, y, steps=50, update_grid=False, verbose=verbose)
    rmse_pruned = _rmse(pruned, Xt, yt)
    say(f"pruned KAN: test RMSE {rmse_pruned:.2e}")
    say(pruned.describe())

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = save(pruned, out / "model.h5")
    from ..plot import plot
    plot_path = out / "net.png"
    plot(pruned, plot_path, X=Xt, in_vars=["x", "y"], out_vars=["f"],
         title=f"f = {LAW}")
    seconds = time.perf_counter() - t0
    say(f"wrote {model_path} and {plot_path} in {seconds:.1f} s")
    return DemoResult(rmse_dense, rmse_pruned,
                      pruned.width_spec, seconds,
                      model_path, plot_path)

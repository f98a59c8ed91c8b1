#!/usr/bin/env python
"""Seconds per training epoch of kandiscover's SeqKAN against the official seqkan package.

Data: the pendulum training windows (``make_pendulum(seed=0)``,
``windows(ds, "train")``: 33,300 windows of 50 steps, 2 features, 2 labels).
Both models have hidden size 1, grid 5, k 3, batch 64, float32 on the CPU:

    ours      ``kandiscover.kan.seqkan.SeqKAN(2, 1, 2, seed=0)``, timed as
              ``fit(Xs, Ys, epochs=1, batch_size=64, grid_update_epochs=())``
    official  ``kandiscover.compare.seqkan_official.OfficialSeqKAN(2, 2, 1)``
              (the package's ``seqKAN``), timed as ``fit(Xs, Ys, epochs=1,
              batch_size=64)``

Each fit is one pass of Adam steps (forward over the 50 steps, BCE of the last
step, backward, step) over a seed-0 subsample of ``--batches`` batches, so
both do the same number of optimizer steps on the same windows; the times
include each fit's fixed costs (input checks, scaling, building the model),
which only makes both look slower.  The rounds alternate: each round times
ours on all ``--batches`` batches and the official model on the next
``1/--rounds`` of them (it is 5-50x slower), so a burst of load from other
processes hits both; the minimum per-batch time over the rounds is
extrapolated to one epoch of 33,300 windows.  Target: ours at least 10x faster.

    .venv/bin/python benchmarks/seqkan_speed.py                # about a minute
    .venv/bin/python benchmarks/seqkan_speed.py --threads 1 --check
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Callable, List, Optional

import numpy as np
import torch

import kandiscover as kd
from kandiscover.compare.seqkan_official import OfficialSeqKAN, available
from kandiscover.data.pendulum import make_pendulum, windows
from kandiscover.kan.seqkan import SeqKAN

BATCH = 64
HIDDEN = 1
GRID = 5
K = 3
TARGET = 10.0


def _loadavg() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not available on Windows
        return None


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "not installed"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=60,
                   help="training batches of 64 windows timed per model (default 60, "
                        "about a minute in all)")
    p.add_argument("--rounds", type=int, default=3,
                   help="timing rounds; the official model's batches are split among them "
                        "(default 3)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) before timing (default: torch's choice)")
    p.add_argument("--skip-official", action="store_true", help="time ours only")
    p.add_argument("--check", action="store_true",
                   help=f"exit with status 1 when ours is less than {TARGET:g}x faster")
    args = p.parse_args(argv)
    if args.batches < 1 or args.rounds < 1:
        p.error("--batches and --rounds must be at least 1")
    rounds = min(args.rounds, args.batches)
    if args.threads:
        torch.set_num_threads(args.threads)

    ok, reason = (False, "skipped (--skip-official)") if args.skip_official else available()
    if not ok and not args.skip_official:
        print(f"NOTE: {reason}\n      Timing kandiscover's SeqKAN only.", flush=True)

    load = _loadavg()
    print("seqKAN training speed: kandiscover SeqKAN vs the official seqkan package "
          "(CPU float32)")
    for key, val in (("python", platform.python_version()), ("torch", torch.__version__),
                     ("kandiscover", getattr(kd, "__version__", "unknown")),
                     ("seqkan", _version("seqkan") if ok else reason),
                     ("torch_threads", torch.get_num_threads()),
                     ("platform", platform.platform()), ("cpu_count", os.cpu_count()),
                     ("loadavg", load)):
        print(f"  {key:<14} {val}")
    if load is not None and load[0] >= 0.75 and torch.get_num_threads() > 1:
        print(f"WARNING: the 1-minute load average is {load[0]:.2f} before the benchmark "
              "started: other processes are using the CPU. Multi-threaded torch timings "
              "can then be inflated many-fold; compare with --threads 1.")
    print(flush=True)

    t_start = time.perf_counter()
    X, Y, _ = windows(make_pendulum(seed=0), "train")
    n_total = len(X)
    n_sub = min(args.batches * BATCH, n_total)
    keep = np.sort(np.random.default_rng(0).permutation(n_total)[:n_sub])
    Xs, Ys = X[keep], Y[keep]
    n_batches = -(-n_sub // BATCH)
    chunks = np.array_split(np.arange(n_batches), rounds)
    print(f"data: {n_total} windows x {X.shape[1]} steps x {X.shape[2]} features, "
          f"{Y.shape[1]} labels; timing {n_batches} batches of {BATCH} "
          f"(hidden {HIDDEN}, grid {GRID}, k {K}) in {rounds} rounds", flush=True)

    def ours(x, y):
        return SeqKAN(2, HIDDEN, 2, grid=GRID, k=K, seed=0).fit(
            x, y, epochs=1, batch_size=BATCH, grid_update_epochs=())

    def official(x, y):
        return OfficialSeqKAN(2, output_size=2, hidden_size=HIDDEN, grid=GRID, k=K,
                              seed=0).fit(x, y, epochs=1, batch_size=BATCH)

    # warm-up (lazy imports, first-call allocations)
    ours(Xs[:BATCH], Ys[:BATCH])
    if ok:
        official(Xs[:BATCH], Ys[:BATCH])

    t_ours: List[float] = []       # seconds per batch, one per round
    t_off: List[float] = []
    for r, chunk in enumerate(chunks):
        t_ours.append(_seconds(lambda: ours(Xs, Ys)) / n_batches)
        if ok and len(chunk):
            lo, hi = chunk[0] * BATCH, min((chunk[-1] + 1) * BATCH, n_sub)
            t_off.append(_seconds(lambda: official(Xs[lo:hi], Ys[lo:hi])) / len(chunk))
        print(f"  round {r + 1}/{rounds}: ours {1e3 * t_ours[-1]:.1f} ms/batch"
              + (f", official {1e3 * t_off[-1]:.1f} ms/batch ({len(chunk)} batches)"
                 if t_off else ""), flush=True)

    per_epoch = n_total / BATCH
    best_ours = min(t_ours)
    print(f"\n{'':22}{'ms/batch':>10}{'s/epoch':>10}   (min over rounds; epoch = "
          f"{n_total} windows = {per_epoch:.1f} batches)")
    print(f"{'kandiscover SeqKAN':22}{1e3 * best_ours:10.1f}{best_ours * per_epoch:10.1f}")
    status = 0
    if t_off:
        best_off = min(t_off)
        ratio = best_off / best_ours
        print(f"{'official seqkan':22}{1e3 * best_off:10.1f}{best_off * per_epoch:10.1f}")
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(f"\nratio official/ours: {ratio:.1f}x   (target >= {TARGET:g}x: {verdict})")
        if args.check and ratio < TARGET:
            status = 1
    print(f"\nload average after: {_loadavg()}; total benchmark time: "
          f"{time.perf_counter() - t_start:.1f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python
"""Recovery of the ten acceptance laws by ``KANRegressor`` with its defaults.

For every law of :data:`kandiscover.study.laws.LAWS`: 1000 points drawn
uniformly from its box (seed 0, no noise), ``KANRegressor().fit``, and the
SRBench symbolic-solution check of the formula against the truth (a
difference or ratio that simplifies to a constant; 20 s sympy limit).

Timings are wall seconds of ``fit``.  Because the machines are shared, an
anchor workload is timed in the same process before and after the laws (a
[2, 5, 1] KAN trained for 50 LBFGS steps on 1000 points); the table also
gives each time in anchor units, which compare across machines and loads.

Usage::

    .venv/bin/python benchmarks/recovery.py                 # all ten laws
    .venv/bin/python benchmarks/recovery.py exp_sin product # some of them
    .venv/bin/python benchmarks/recovery.py --json out.json --check

``--check`` exits with status 1 unless at least 9 of 10 laws are recovered,
each within 60 s, and exp_sin within 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

import kandiscover as kd
from kandiscover.compare.metrics import SimplifyTimeout, symbolic_solution
from kandiscover.study.laws import LAWS, get_law


def anchor_seconds(repeats: int = 3) -> float:
    """Best of ``repeats`` runs of a fixed training job."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1000, 2))
    y = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)
    best = float("inf")
    for _ in range(repeats):
        m = kd.KAN([2, 5, 1], grid=5, seed=0, dtype="float64")
        t = time.perf_counter()
        m.fit(X, y, steps=50, verbose=False)
        best = min(best, time.perf_counter() - t)
    return best


def run_law(law, seed: int = 0) -> dict:
    X, y = law.sample(1000, seed)
    t = time.perf_counter()
    reg = kd.KANRegressor(seed=seed, verbose=False).fit(X, y, variable_names=law.variables)
    seconds = time.perf_counter() - t
    try:
        ok = bool(symbolic_solution(reg.expression_, law.truth, timeout=20))
    except SimplifyTimeout:
        ok = False
    Xt, yt = law.sample(1000, seed + 1)
    return dict(law=law.name, truth=str(law.truth), found=str(reg.expression_),
                recovered=ok, seconds=seconds, width=str(reg.width_),
                r2_test=float(kd.compare.r2_score(yt, reg.predict(Xt))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("laws", nargs="*", help="law names (default: all ten)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless >= 9/10 recovered, each < 60 s, exp_sin < 10 s")
    args = p.parse_args(argv)
    laws = [get_law(n) for n in args.laws] if args.laws else list(LAWS)

    print(f"kandiscover {kd.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    run_law(get_law("sin_cos"))          # warm-up: imports, first-call costs
    a0 = anchor_seconds()
    rows = []
    for law in laws:
        row = run_law(law, args.seed)
        rows.append(row)
        print(f"  {law.name}: {row['found']}  ({row['seconds']:.1f} s)", flush=True)
    a1 = anchor_seconds()
    anchor = min(a0, a1)

    w = max(len(r["truth"]) for r in rows)
    print(f"\nanchor ([2, 5, 1] KAN, 50 LBFGS steps): {anchor:.2f} s "
          f"(before {a0:.2f}, after {a1:.2f})\n")
    print(f"{'law':<18} {'formula':<{w}}  {'recovered':<9} {'seconds':>7} {'anchors':>7} "
          f"{'test R^2':>10}  found")
    for r in rows:
        print(f"{r['law']:<18} {r['truth']:<{w}}  {'yes' if r['recovered'] else 'NO':<9} "
              f"{r['seconds']:7.1f} {r['seconds'] / anchor:7.1f} {r['r2_test']:10.6f}  "
              f"{r['found']}")
    n_ok = sum(r["recovered"] for r in rows)
    print(f"\nrecovered {n_ok}/{len(rows)}; total {sum(r['seconds'] for r in rows):.1f} s, "
          f"slowest {max(r['seconds'] for r in rows):.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(anchor_seconds=anchor, rows=rows), f, indent=2)
    if args.check:
        failed = []
        if len(rows) == len(LAWS) and n_ok < 9:
            failed.append(f"only {n_ok}/10 recovered")
        failed += [f"{r['law']} took {r['seconds']:.1f} s" for r in rows if r["seconds"] >= 60]
        failed += [f"exp_sin took {r['seconds']:.1f} s" for r in rows
                   if r["law"] == "exp_sin" and r["seconds"] >= 10]
        if failed:
            print("CHECK FAILED: " + "; ".join(failed))
            return 1
        print("check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

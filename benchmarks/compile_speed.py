#!/usr/bin/env python
"""Compile time of the 100 Feynman equations, against an anchor.

For each equation of ``datasets/feynman/FeynmanEquations.csv``: the best of
``--repeats`` runs of ``kandiscover.compile_formula`` (sympy expression in,
float64 KAN out, grids set from the sampling ranges), and, as the anchor
timed in the same process, the best of ``--repeats`` runs of
``sympy.lambdify`` on the same expression (the cheapest way to turn a formula
into something that computes).  Prints the median and the maximum of both
and of their ratio, plus the slowest equations.

    .venv/bin/python benchmarks/compile_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import sympy

import kandiscover as kd
from kandiscover.data.feynman import feynman_equations


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    eqs = feynman_equations()
    kd.compile_formula("sin(x)*y", ["x", "y"])        # warm-up: imports, caches
    rows = []
    for eq in eqs:
        expr, names = eq.expression, list(eq.variables)
        ranges = dict(zip(eq.variables, eq.ranges))
        t_kan = best_of(lambda: kd.compile_formula(expr, names, ranges=ranges), args.repeats)
        t_lam = best_of(lambda: sympy.lambdify([sympy.Symbol(n) for n in names], expr,
                                              "numpy"), args.repeats)
        m = kd.compile_formula(expr, names, ranges=ranges)
        rows.append((eq.name, t_kan, t_lam, m.width_spec, m.n_edges()))
    kan = [r[1] for r in rows]
    lam = [r[2] for r in rows]
    ratio = [r[1] / r[2] for r in rows]
    print(f"{len(rows)} Feynman equations, best of {args.repeats}")
    print(f"{'':28}{'median':>10}{'max':>10}")
    print(f"{'compile_formula (ms)':28}{1e3 * statistics.median(kan):10.2f}{1e3 * max(kan):10.2f}")
    print(f"{'sympy.lambdify (ms, anchor)':28}{1e3 * statistics.median(lam):10.2f}"
          f"{1e3 * max(lam):10.2f}")
    print(f"{'ratio to anchor':28}{statistics.median(ratio):10.2f}{max(ratio):10.2f}")
    print("\nslowest five:")
    for name, t_k, t_l, width, n_edges in sorted(rows, key=lambda r: -r[1])[:5]:
        print(f"  {name:10} {1e3 * t_k:8.2f} ms  (lambdify {1e3 * t_l:.2f} ms)  "
              f"width {width}, {n_edges} edges")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

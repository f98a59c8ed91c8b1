#!/usr/bin/env python
"""Time one training step of kandiscover's KAN against pykan 0.2.8.

One *step* is: zero the gradients, ``y = model(x)``, ``loss = (y ** 2).mean()``,
``loss.backward()``. It is timed on CPU in float32 for three networks (grid=5, k=3):

    width [2, 5, 1]        batch 1000
    width [10, 10, 1]      batch 1000
    width [100, 100, 100]  batch 1024

and for three implementations:

    kandiscover   ``kandiscover.KAN(width, grid=5, k=3, seed=0)``
    pykan         ``kan.KAN(width, grid=5, k=3, seed=0, auto_save=False)`` (default mode)
    pykan speed   the same model after ``model.speed()`` (no symbolic branch, no saved acts)

All three see the same input tensor. After warm-up steps, each implementation's step
time is estimated from a calibration run; the number of steps per timing block and
the number of blocks are then chosen so that every block lasts about ``--block-seconds``
and the whole measurement of one implementation stays within ``--budget`` seconds.
Blocks of the implementations are interleaved (round robin), so a burst of noise on a
shared machine hits all of them alike. The reported time is the minimum of the
per-step block times (``--stat median`` for the median; the JSON output keeps both,
and every sample). Load from other processes only ever adds time, so on a shared
machine the minimum is the steadiest estimate of what the code itself costs.

pykan is imported lazily. It writes checkpoint folders into the current directory and
reseeds the global random number generators when a model is built, and it rewrites the
``width`` list it is given, so every pykan model is built from a copy of the width,
inside a temporary working directory, and the RNG states are restored afterwards.

Usage::

    .venv/bin/python benchmarks/layer_speed.py            # full run (a few minutes)
    .venv/bin/python benchmarks/layer_speed.py --quick    # fewer repetitions
    .venv/bin/python benchmarks/layer_speed.py --skip-pykan
    .venv/bin/python benchmarks/layer_speed.py --json results.json --check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional

import torch

# (width, batch) of the benchmarked networks.
CASES = [
    ([2, 5, 1], 1000),
    ([10, 10, 1], 1000),
    ([100, 100, 100], 1024),
]
GRID = 5
K = 3
SEED = 0

# (width, implementation, minimum speed-up of kandiscover over it)
TARGETS = [
    ([100, 100, 100], "pykan", 200.0),
    ([100, 100, 100], "pykan_speed", 10.0),
    ([2, 5, 1], "pykan", 3.0),
]

# Which per-step statistic the table, the ratios and the targets use ("min_ms" or
# "median_ms"); set from --stat in main().
STAT_KEY = "min_ms"

IMPL_LABELS = {
    "kandiscover": "kandiscover",
    "pykan": "pykan default",
    "pykan_speed": "pykan speed",
}


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _scratch_cwd() -> Iterator[str]:
    """Run the body inside a fresh temporary directory; restore the old cwd after."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="kd_bench_") as tmp:
        os.chdir(tmp)
        try:
            yield tmp
        finally:
            os.chdir(old)


@contextlib.contextmanager
def _preserve_rng() -> Iterator[None]:
    """Restore the Python, NumPy and torch global RNG states on exit."""
    py_state = random.getstate()
    torch_state = torch.random.get_rng_state()
    try:
        import numpy as np
        np_state = np.random.get_state()
    except ImportError:  # pragma: no cover - numpy is a dependency of both libraries
        np = None
        np_state = None
    try:
        yield
    finally:
        random.setstate(py_state)
        torch.random.set_rng_state(torch_state)
        if np is not None:
            np.random.set_state(np_state)


def _import_pykan():
    """Return pykan's ``KAN`` class, or ``None`` with a reason when unavailable."""
    try:
        with _scratch_cwd():  # importing is harmless, but stay out of the repo anyway
            from kan import KAN as PyKAN  # noqa: N811
    except Exception as exc:  # ImportError, or a broken install
        return None, f"{type(exc).__name__}: {exc}"
    return PyKAN, None


def _pykan_version() -> str:
    try:
        from importlib.metadata import version
        return version("pykan")
    except Exception:
        return "unknown"


def _loadavg() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not available on Windows
        return None


def _make_step(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    params = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        for p in params:
            p.grad = None  # zero grads between steps
        y = model(x)
        loss = (y ** 2).mean()
        loss.backward()

    return step


def _time_block(step: Callable[[], None], n: int) -> float:
    """Seconds per step over ``n`` consecutive steps."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


@dataclass
class Runner:
    name: str
    step: Callable[[], None]
    per_step_estimate: float = 0.0
    block_steps: int = 1
    n_blocks: int = 1
    samples: List[float] = field(default_factory=list)

    def result(self) -> Dict[str, object]:
        return {
            "median_ms": 1e3 * statistics.median(self.samples),
            "min_ms": 1e3 * min(self.samples),
            "max_ms": 1e3 * max(self.samples),
            "blocks": len(self.samples),
            "steps_per_block": self.block_steps,
            "samples_ms": [round(1e3 * s, 4) for s in self.samples],
        }


def _calibrate(runner: Runner, warmup_seconds: float, max_warmup: int) -> None:
    """Warm up (at least one step) and estimate the time of one step."""
    first = _time_block(runner.step, 1)
    times = [first]
    spent = first
    while len(times) < max_warmup and spent < warmup_seconds:
        t = _time_block(runner.step, 1)
        times.append(t)
        spent += t
    # Exclude the very first step (allocation, lazy init) from the estimate when possible.
    runner.per_step_estimate = min(times[1:]) if len(times) > 1 else first


def _plan(runner: Runner, block_seconds: float, budget: float, min_blocks: int,
          max_blocks: int) -> None:
    est = max(runner.per_step_estimate, 1e-7)
    runner.block_steps = max(1, int(block_seconds / est))
    block_time = runner.block_steps * est
    runner.n_blocks = int(min(max_blocks, max(min_blocks, budget // block_time)))


# --------------------------------------------------------------------------- benchmark

def benchmark_case(width: List[int], batch: int, pykan_cls, args) -> Dict[str, object]:
    import kandiscover as kd

    gen = torch.Generator().manual_seed(1234)
    x = (2.0 * torch.rand(batch, width[0], generator=gen, dtype=torch.float32) - 1.0)

    runners: List[Runner] = []
    kd_model = kd.KAN(list(width), grid=GRID, k=K, seed=SEED)
    kd_model.train()
    runners.append(Runner("kandiscover", _make_step(kd_model, x)))

    if pykan_cls is not None:
        with _preserve_rng():
            py_model = pykan_cls(width=list(width), grid=GRID, k=K, seed=SEED,
                                 auto_save=False)
            py_fast = pykan_cls(width=list(width), grid=GRID, k=K, seed=SEED,
                                auto_save=False)
        py_fast = py_fast.speed()
        runners.append(Runner("pykan", _make_step(py_model, x)))
        runners.append(Runner("pykan_speed", _make_step(py_fast, x)))

    for r in runners:
        _calibrate(r, args.warmup_seconds, args.max_warmup)
        _plan(r, args.block_seconds, args.budget, args.min_blocks, args.max_blocks)

    # Round robin: one block of every implementation per round, so that a burst of
    # noise hits all of them alike. An implementation stops once it has its planned
    # number of blocks, or when its timed blocks have used up the budget (the machine
    # got slower than calibrated) -- but never before `min_blocks` blocks.
    spent = {r.name: 0.0 for r in runners}
    rnd = 0
    while True:
        if time.perf_counter() > args.deadline:
            # The whole run is over its time limit (a very busy machine): keep what
            # we have, with at least one block per implementation.
            active = [r for r in runners if not r.samples]
        else:
            active = [r for r in runners
                      if len(r.samples) < args.min_blocks
                      or (len(r.samples) < r.n_blocks and spent[r.name] < args.budget)]
        if not active:
            break
        rnd += 1
        for r in active:
            per_step = _time_block(r.step, r.block_steps)
            r.samples.append(per_step)
            spent[r.name] += per_step * r.block_steps
        if args.verbose:
            print(f"  {width} round {rnd}: " + ", ".join(
                f"{r.name} {1e3 * r.samples[-1]:.2f} ms" for r in active), flush=True)

    results = {r.name: r.result() for r in runners}
    return {"width": list(width), "batch": batch, "results": results}


def _ratio(case: Dict[str, object], impl: str) -> Optional[float]:
    res = case["results"]
    if impl not in res:
        return None
    return res[impl][STAT_KEY] / res["kandiscover"][STAT_KEY]


def _fmt(v: Optional[float], spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer and shorter repetitions (rougher numbers, ~1 minute)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--skip-pykan", action="store_true",
                   help="time kandiscover only (also the fallback when pykan is missing)")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 when a speed target is missed")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) before timing (default: torch's choice)")
    p.add_argument("--stat", choices=["min", "median"], default="min",
                   help="statistic of the per-step block times used for the table and the "
                        "targets (default: min, the most robust to load from other "
                        "processes, which only ever adds time)")
    p.add_argument("--verbose", action="store_true", help="print every timing round")
    args = p.parse_args(argv)
    global STAT_KEY
    STAT_KEY = f"{args.stat}_ms"

    # Timing plan: per implementation and width, roughly `budget` seconds of timed blocks
    # (never fewer than `min_blocks` blocks, so a 7 s/step model costs min_blocks steps).
    if args.quick:
        args.warmup_seconds, args.max_warmup = 0.3, 5
        args.block_seconds, args.budget = 0.1, 1.5
        args.min_blocks, args.max_blocks = 2, 15
        args.time_limit = 120.0
    else:
        args.warmup_seconds, args.max_warmup = 1.0, 20
        args.block_seconds, args.budget = 0.2, 6.0
        args.min_blocks, args.max_blocks = 3, 30
        args.time_limit = 300.0

    json_path = os.path.abspath(args.json) if args.json else None
    if args.threads:
        torch.set_num_threads(args.threads)

    pykan_cls, pykan_note = None, None
    if args.skip_pykan:
        pykan_note = "skipped (--skip-pykan)"
    else:
        pykan_cls, reason = _import_pykan()
        if pykan_cls is None:
            pykan_note = f"not available ({reason})"
            print(f"NOTE: pykan could not be imported: {reason}\n"
                  "      Benchmarking kandiscover only. Install it with "
                  "`pip install pykan==0.2.8 pyyaml tqdm` (the `bench` extra).",
                  flush=True)

    import kandiscover as kd

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "kandiscover": getattr(kd, "__version__", "unknown"),
        "pykan": _pykan_version() if pykan_cls is not None else pykan_note,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "dtype": "float32",
        "device": "cpu",
        "grid": GRID,
        "k": K,
        "mode": "quick" if args.quick else "full",
        "statistic": args.stat,
        "loadavg_before": _loadavg(),
    }
    print("kandiscover KAN layer speed benchmark (one forward+backward step, CPU float32)")
    for key in ("python", "torch", "kandiscover", "pykan", "torch_threads", "platform",
                "machine", "processor", "cpu_count", "loadavg_before", "mode"):
        print(f"  {key:<14} {info[key]}")
    load = info["loadavg_before"]
    if load is not None and load[0] >= 0.75 and torch.get_num_threads() > 1:
        print(f"WARNING: the 1-minute load average is {load[0]:.2f} before the benchmark "
              "started: other processes are using the CPU. Multi-threaded torch timings "
              "can then be inflated many-fold (threads wait on each other); compare "
              "with --threads 1.")
    print(flush=True)

    torch.set_default_dtype(torch.float32)
    t_start = time.perf_counter()
    args.deadline = t_start + args.time_limit
    cases = []
    # Everything runs inside a scratch directory so that nothing lands in the repository.
    with _scratch_cwd():
        for width, batch in CASES:
            print(f"timing width={width} batch={batch} ...", flush=True)
            t0 = time.perf_counter()
            case = benchmark_case(width, batch, pykan_cls, args)
            case["seconds"] = time.perf_counter() - t0
            cases.append(case)
    total = time.perf_counter() - t_start

    # ---- table
    header = (f"{'width':<16} {'batch':>5} {'kandiscover ms':>15} {'pykan default ms':>17} "
              f"{'pykan speed ms':>15} {'default/kd':>11} {'speed/kd':>9}")
    print()
    print(header)
    print("-" * len(header))
    for case in cases:
        res = case["results"]
        kd_ms = res["kandiscover"][STAT_KEY]
        d_ms = res.get("pykan", {}).get(STAT_KEY)
        s_ms = res.get("pykan_speed", {}).get(STAT_KEY)
        r_d, r_s = _ratio(case, "pykan"), _ratio(case, "pykan_speed")
        case["ratio_default_over_kd"], case["ratio_speed_over_kd"] = r_d, r_s
        print(f"{str(case['width']):<16} {case['batch']:>5} {kd_ms:>15.3f} "
              f"{_fmt(d_ms, '.3f'):>17} {_fmt(s_ms, '.3f'):>15} "
              f"{_fmt(r_d, '.1f') + ('x' if r_d is not None else ''):>11} "
              f"{_fmt(r_s, '.1f') + ('x' if r_s is not None else ''):>9}")
    print(f"({args.stat} of per-step block times over the timed blocks; "
          "ratios are pykan time / kandiscover time)")

    # ---- targets
    print("\ntargets:")
    targets = []
    failed = False
    by_width = {tuple(c["width"]): c for c in cases}
    for width, impl, need in TARGETS:
        case = by_width[tuple(width)]
        got = _ratio(case, impl)
        if got is None:
            status = "SKIP"
        elif got >= need:
            status = "PASS"
        else:
            status = "FAIL"
            failed = True
        targets.append({"width": width, "against": impl, "required": need,
                        "measured": got, "status": status})
        print(f"  {status:<4}  {str(width):<16} >= {need:g}x {IMPL_LABELS[impl]:<14} "
              f"measured {_fmt(got, '.1f') + ('x' if got is not None else '')}")
    info["loadavg_after"] = _loadavg()
    print(f"\nload average (1, 5, 15 min): before {info['loadavg_before']}, "
          f"after {info['loadavg_after']}")
    print(f"total benchmark time: {total:.1f} s")

    if json_path:
        payload = {"info": info, "cases": cases, "targets": targets,
                   "total_seconds": total}
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
        print(f"results written to {json_path}")

    if args.check and failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

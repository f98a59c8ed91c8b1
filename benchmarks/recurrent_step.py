#!/usr/bin/env python
"""One training step of each recurrent model of the pendulum study, against torch's LSTM.

A step is what ``fit`` repeats: the last step's logits of a batch of 256 pendulum
windows of 50 steps, their binary cross-entropy, and the backward pass (gradients
cleared between steps; no optimizer).  Models, as the pendulum study builds them:

    LSTM (anchor)    torch's nn.LSTM, 16 units, and a linear head (``LSTMClassifier``)
    TKAN             16 units (``TKANClassifier``)
    seqKAN           hidden state 8, grid 5, oscillator-scaled inputs inside
    seqKAN/wide      the same with ``variant="wide"``, ``output_width=(4, 2)``
    seqKAN/wide sym  seqKAN/wide with every edge of both maps symbolic: what
                     ``refine_rules`` trains in a hidden-state analysis

The LSTM and TKAN read the oscillator-scaled windows, the seqKANs the raw ones
(they scale inside, as in the study).  Blocks of ``--reps`` steps take turns
over the models for ``--rounds`` rounds, so a burst of load from other processes
hits all of them; the table gives the fastest block's time per step and its ratio
to the LSTM's, measured in the same process.

    .venv/bin/python benchmarks/recurrent_step.py --threads 1      # about a minute
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Callable, Dict, List, Optional

import torch

import kandiscover as kd
from kandiscover.compare.recurrent import LSTMClassifier, TKANClassifier
from kandiscover.data.pendulum import make_pendulum, windows
from kandiscover.kan.seqkan import SeqKAN, oscillator_scaled

BATCH = 256
DT = 0.05
#: functions cycled over the symbolic edges (their safe training forms)
SYMBOLIC = ("x", "sin", "x^2", "tanh", "x^3")


def _all_symbolic(model: SeqKAN) -> SeqKAN:
    """A copy of ``model`` whose every edge is symbolic (constants near identity)."""
    import copy
    sym = copy.deepcopy(model)
    k = 0
    for kan in (sym.phi_h, sym.phi_o):
        for l, layer in enumerate(kan.layers):
            for i in range(layer.n_in):
                for j in range(layer.n_out):
                    kan.set_symbolic(l, i, j, SYMBOLIC[k % len(SYMBOLIC)],
                                     (0.5, 0.1, 0.3, 0.0))
                    k += 1
    return sym


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="timing rounds (default 5)")
    p.add_argument("--reps", type=int, default=10, help="steps per block (default 10)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) before timing (default: torch's choice)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.reps < 1:
        p.error("--rounds and --reps must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    print("Recurrent training steps (CPU float32, batch 256 x 50 steps), against torch's LSTM")
    for key, val in (("python", platform.python_version()), ("torch", torch.__version__),
                     ("kandiscover", getattr(kd, "__version__", "unknown")),
                     ("torch_threads", torch.get_num_threads()),
                     ("platform", platform.platform()), ("cpu_count", os.cpu_count()),
                     ("loadavg", [round(v, 2) for v in os.getloadavg()])):
        print(f"  {key:<14} {val}")

    ds = make_pendulum(seed=0, n_train=12, n_val=2, n_interp=2, n_extrap=2)
    X, Y, _ = windows(ds, "train")
    X, Y = X[:BATCH], torch.as_tensor(Y[:BATCH], dtype=torch.float32)
    Xs = torch.as_tensor(oscillator_scaled(X, DT), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)

    def seqkan(**kw) -> SeqKAN:
        m = SeqKAN(2, 8, 2, grid=5, window_scale="oscillator", dt=DT, seed=0, **kw)
        m.fit_normalization(X)
        return m

    std, wide = seqkan(), seqkan(variant="wide", output_width=(4, 2))
    sym = _all_symbolic(wide)
    lstm = LSTMClassifier(3, 2, hidden_size=16)._build(gen)
    tkan = TKANClassifier(3, 2, hidden_size=16)._build(gen)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def seq_step(m: SeqKAN) -> Callable[[], None]:
        z = m._prepare(X)
        params = [q for q in m.parameters() if q.requires_grad]

        def run() -> None:
            bce(m._last_logits(z), Y).backward()
            for q in params:
                q.grad = None
        return run

    def torch_step(mod: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            bce(mod(Xs), Y).backward()
            mod.zero_grad(set_to_none=True)
        return run

    models: Dict[str, Callable[[], None]] = {
        "LSTM (anchor)": torch_step(lstm), "TKAN": torch_step(tkan),
        "seqKAN": seq_step(std), "seqKAN/wide": seq_step(wide),
        "seqKAN/wide sym": seq_step(sym)}
    for run in models.values():      # warm-up
        run()
    best = {name: float("inf") for name in models}
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for name, run in models.items():
            t = time.perf_counter()
            for _ in range(args.reps):
                run()
            best[name] = min(best[name], (time.perf_counter() - t) / args.reps)
    anchor = best["LSTM (anchor)"]
    print(f"\n{'model':18}{'ms/step':>10}{'x LSTM':>9}")
    for name, sec in best.items():
        print(f"{name:18}{1e3 * sec:10.1f}{sec / anchor:9.2f}")
    print(f"\nsymbolic/spline seqKAN/wide: {best['seqKAN/wide sym'] / best['seqKAN/wide']:.2f}; "
          f"timing {time.perf_counter() - t0:.1f} s, load average after "
          f"{[round(v, 2) for v in os.getloadavg()]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

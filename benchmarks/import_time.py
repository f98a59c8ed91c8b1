"""Start-up cost: ``import kandiscover`` in a fresh interpreter, against ``import torch``.

Every spawned study worker and every CLI call pays the package import once.
The anchor is torch, which the package needs anyway: the ratio says how much
the rest of the import adds on top of it on this machine, at this moment.

    .venv/bin/python benchmarks/import_time.py [--repeat 5]

Each sample is a new process (``python -c "import ..."``), timed from the
outside; the median of ``--repeat`` samples per statement is printed.  It also
lists which of the slow optional imports (scikit-learn, scipy.stats,
matplotlib) ``import kandiscover`` pulls in; none of them should be.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "torch (anchor)": "import torch",
    "kandiscover": "import kandiscover",
    "a study worker (kandiscover.study.pendulum)": "import kandiscover.study.pendulum",
}
LAZY = ("sklearn", "scipy.stats", "matplotlib")


def sample(statement: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="samples per statement (default 5)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    sample("import torch")                               # warm the file cache first
    times = {}
    for name, statement in STATEMENTS.items():
        # interleaved would be fairer under drifting load; the samples are
        # seconds long, so a block per statement keeps it simple
        times[name] = statistics.median(sample(statement) for _ in range(args.repeat))
    anchor = times["torch (anchor)"]
    print(f"median of {args.repeat} fresh interpreters, {sys.executable}")
    for name, t in times.items():
        print(f"  {name:45s} {t:6.2f} s   {t / anchor:5.2f} x torch")
    probe = ("import sys, kandiscover; print(','.join(m for m in %r if m in sys.modules))"
             % (LAZY,))
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True).stdout.strip()
    print(f"optional modules loaded by 'import kandiscover': {loaded or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

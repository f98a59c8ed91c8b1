"""The main job: discover three known laws from samples and report them.

For each law (exp(sin(pi x) + y^2), a Gaussian density, relativistic
velocity addition): 1000 samples, :func:`~kandiscover.study.discover.discover`
(KANRegressor on 75 %, test R^2 on the rest), the SRBench check against the
truth, and in ``out_dir``: ``<law>_fit.png`` (measured against predicted),
``<law>_network.png`` (the symbolic network), ``<law>.h5`` (the model) and
one ``summary.json`` for all three.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..compare.metrics import SimplifyTimeout, symbolic_solution
from ..data.store import atomic_path, save
from ..symbolic.export import to_latex
from .discover import discover
from .laws import get_law
from .results import study_folder

DEMO_LAWS = ("exp_sin", "gaussian", "velocity_addition")


@dataclass
class LawResult:
    name: str
    truth: str
    truth_latex: str
    expression: str
    latex: str
    r2_test: float | None
    recovered: bool
    seconds: float
    files: list[Path] = field(default_factory=list)


@dataclass
class DemoResult:
    laws: list[LawResult]
    seconds: float
    summary_path: Path


def run(out_dir: str | Path = "demo_output", seed: int = 0, n_samples: int = 1000,
        verbose: bool = True) -> DemoResult:
    """Discover the three demo laws; write pictures, models and a summary."""
    from ..plot import plot

    say = print if verbose else (lambda *a, **k: None)
    t0 = time.perf_counter()
    out = study_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for k, name in enumerate(DEMO_LAWS, 1):
        law = get_law(name)
        X, y = law.sample(n_samples, seed)
        args = ", ".join(law.variables)
        box = f"[{law.low:g}, {law.high:g}]" + (f"^{law.n_vars}" if law.n_vars > 1 else "")
        say(f"\n[{k}/{len(DEMO_LAWS)}] {name}: f({args}) = {law.truth}, {n_samples} samples "
            f"on {box}")
        found = discover(X, y, law.variables, target="f", seed=seed, verbose=verbose)
        try:
            ok = bool(symbolic_solution(found.expression, law.truth, timeout=20))
        except SimplifyTimeout:
            ok = False
        files = [found.plot(out / f"{name}_fit.png"),
                 save(found.regressor.model_, out / f"{name}.h5")]
        plot(found.regressor.model_, out / f"{name}_network.png", X=found.X_test,
             in_vars=law.variables, out_vars=["f"])
        files.append(out / f"{name}_network.png")
        res = LawResult(name, str(law.truth), to_latex(law.truth), str(found.expression),
                        found.latex, found.r2_test, ok, found.seconds, files)
        results.append(res)
        say(f"  truth:     {res.truth}")
        say(f"  recovered: {res.expression}   ({'same law' if ok else 'NOT the same law'})")
        say(f"  LaTeX:     {res.latex}")
        say(f"  test R^2:  {res.r2_test:.9f}   ({res.seconds:.1f} s)")
    summary = out / "summary.json"
    with atomic_path(summary, suffix=".json") as tmp:
        tmp.write_text(json.dumps([dict(law=r.name, truth=r.truth, expression=r.expression,
                                        latex=r.latex, r2_test=r.r2_test,
                                        recovered=r.recovered, seconds=round(r.seconds, 3),
                                        files=[p.name for p in r.files])
                                   for r in results], indent=2) + "\n")
    seconds = time.perf_counter() - t0
    n_ok = sum(r.recovered for r in results)
    say(f"\nrecovered {n_ok} of {len(results)} laws in {seconds:.1f} s; pictures, models "
        f"and {summary.name} are in {out}/")
    return DemoResult(results, seconds, summary)

"""The Feynman equations (AI Feynman / SRBench): a registry and a sampler.

The table ships in ``datasets/feynman/FeynmanEquations.csv`` (see its
``PROVENANCE.md``).  Each row is an :class:`FeynmanEquation`: its name
(``I.6.2a``), target, formula text, and its variables with their uniform
sampling ranges.  Formulas are read with :func:`~kandiscover.parse_formula`,
every variable bound to a symbol (``gamma``, ``beta``, ``lambd`` and ``E_n``
are variables there, not sympy functions).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import sympy

from ..errors import InputError

__all__ = ["FeynmanEquation", "feynman_equations", "get_feynman", "equations", "sample",
           "FEYNMAN_CSV"]

FEYNMAN_CSV = Path(__file__).resolve().parents[2] / "datasets" / "feynman" / "FeynmanEquations.csv"


@dataclass(frozen=True)
class FeynmanEquation:
    name: str                                   # e.g. "I.6.2a"
    number: int
    output: str
    formula: str                                # the table's text
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]     # uniform sampling range per variable

    @property
    def expression(self) -> sympy.Expr:
        """The formula as a sympy expression (parsed safely)."""
        from ..symbolic.parse import parse_formula
        return parse_formula(self.formula, list(self.variables))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """The formula on the rows of ``X`` (columns in :attr:`variables` order)."""
        fn = sympy.lambdify([sympy.Symbol(v) for v in self.variables], self.expression,
                            "numpy")
        X = np.asarray(X, dtype=float)
        return np.broadcast_to(np.asarray(fn(*X.T), dtype=float), (len(X),)).copy()

    def sample(self, n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the ranges and the formula's values there
        (no noise; see :func:`sample` for datasets with noise)."""
        ds = sample(self.name, n=n, seed=seed)
        return ds.X, ds.y


@lru_cache(maxsize=None)
def _load(path: str) -> tuple[FeynmanEquation, ...]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"the Feynman table {p} is missing; it ships in the repository's "
                         "datasets/feynman folder")
    out = []
    with p.open(newline="") as f:
        for row in csv.DictReader(f):
            k = int(row["# variables"])
            names = tuple(row[f"v{i}_name"] for i in range(1, k + 1))
            ranges = tuple((float(row[f"v{i}_low"]), float(row[f"v{i}_high"]))
                           for i in range(1, k + 1))
            out.append(FeynmanEquation(row["Filename"], int(row["Number"]), row["Output"],
                                       row["Formula"], names, ranges))
    return tuple(out)


def feynman_equations(path: str | Path = FEYNMAN_CSV) -> tuple[FeynmanEquation, ...]:
    """All equations of the table, in table order."""
    return _load(str(path))


def get_feynman(name: str) -> FeynmanEquation:
    """The equation called ``name`` (the table's Filename, e.g. ``"I.6.2a"``)."""
    import difflib

    eqs = feynman_equations()
    for eq in eqs:
        if eq.name == name:
            return eq
    close = difflib.get_close_matches(str(name), [e.name for e in eqs], n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; names look like I.6.2a, II.11.3, III.4.33"
    raise InputError(f"no Feynman equation named {name!r}{hint}")


def equations() -> tuple[FeynmanEquation, ...]:
    """All 100 equations (name, output, formula, variables and their ranges)."""
    return feynman_equations()


def sample(name: str, n: int = 1000, noise: float = 0.0, seed: int = 0):
    """A :class:`~kandiscover.data.dataset.TabularDataset` of equation ``name``:
    ``n`` inputs uniform on its ranges and the target with SRBench noise,
    ``y + N(0, (noise * sqrt(mean(y^2)))^2)``.  Deterministic in ``seed``."""
    from .._validation import check_int
    from .dataset import TabularDataset

    eq = get_feynman(name)
    n = check_int(n, "n", 1)
    seed = check_int(seed, "seed", 0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0 \
            or not np.isfinite(noise):
        raise InputError(f"noise must be a number >= 0 (a fraction of the target's RMS), "
                         f"got {noise!r}")
    rng = np.random.default_rng(seed)
    lo, hi = np.array(eq.ranges, dtype=float).T
    X = lo + (hi - lo) * rng.random((n, len(eq.variables)))
    y = eq.evaluate(X)
    if noise > 0:
        y = y + rng.normal(0.0, noise * float(np.sqrt(np.mean(y ** 2))), size=n)
    return TabularDataset(X, y, list(eq.variables), [eq.output], formula=eq.formula,
                          source=f"Feynman {eq.name} (datasets/feynman)", seed=int(seed),
                          noise=float(noise))

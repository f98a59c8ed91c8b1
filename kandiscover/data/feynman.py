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

__all__ = ["FeynmanEquation", "feynman_equations", "get_feynman", "FEYNMAN_CSV"]

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

    def sample(self, n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the ranges, and the formula's values there."""
        rng = np.random.default_rng(seed)
        lo, hi = np.array(self.ranges, dtype=float).T
        X = lo + (hi - lo) * rng.random((n, len(self.variables)))
        fn = sympy.lambdify([sympy.Symbol(v) for v in self.variables], self.expression,
                            "numpy")
        y = np.broadcast_to(np.asarray(fn(*X.T), dtype=float), (n,)).copy()
        return X, y


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
    for eq in feynman_equations():
        if eq.name == name:
            return eq
    raise InputError(f"no Feynman equation named {name!r}")

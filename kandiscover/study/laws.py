"""Ten small laws of one or two variables that every release must recover.

They are the acceptance set of the symbolic pipeline (``benchmarks/recovery.py``,
``tests/test_recovery.py``) and the source of the demo: each has a sympy
truth in the symbols ``x`` and ``y``, a sampling box, and a sampler that is
deterministic in its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import InputError

__all__ = ["Law", "LAWS", "get_law"]

x, y = sympy.symbols("x y")


@dataclass(frozen=True)
class Law:
    """A known formula f(x, y) with its sampling box."""

    name: str
    truth: sympy.Expr
    low: float
    high: float
    n_vars: int = 2

    @property
    def variables(self) -> list[str]:
        return ["x", "y"][: self.n_vars]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        symbols = sympy.symbols(self.variables)
        fn = sympy.lambdify(symbols, self.truth, "numpy")
        X = np.asarray(X, np.float64)
        return np.broadcast_to(np.asarray(fn(*X.T[: self.n_vars]), np.float64),
                               (len(X),)).copy()

    def sample(self, n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points drawn uniformly from the box and the law's values."""
        rng = np.random.default_rng(seed)
        X = rng.uniform(self.low, self.high, (n, self.n_vars))
        return X, self(X)


LAWS: tuple[Law, ...] = (
    Law("exp_sin", sympy.exp(sympy.sin(sympy.pi * x) + y ** 2), -1, 1),
    Law("product", x * y, -2, 2),
    Law("sin_cos", sympy.sin(x) + sympy.cos(2 * y), -2, 2),
    Law("powers", x ** 2 + y ** 3, -1, 1),
    Law("gaussian", sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi), -3, 3, n_vars=1),
    Law("norm", sympy.sqrt(1 + x ** 2 + y ** 2), -2, 2),
    Law("inverse", 1 / (1 + x * y), 0, 1),
    Law("ratio", x / y, 1, 3),
    Law("sin_product", sympy.sin(x * y), -1.5, 1.5),
    Law("velocity_addition", (x + y) / (1 + x * y), -0.9, 0.9),
)


def get_law(name: str) -> Law:
    """The law called ``name`` (see :data:`LAWS`)."""
    for law in LAWS:
        if law.name == name:
            return law
    raise InputError(f"no law named {name!r}; known: {', '.join(l.name for l in LAWS)}")

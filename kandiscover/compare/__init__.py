"""Comparing found formulas with the truth and with other methods."""

from .backends.pysr import load_pysr_run
from .metrics import accuracy_solution, complexity, r2_score, symbolic_solution

__all__ = ["symbolic_solution", "accuracy_solution", "complexity", "r2_score", "load_pysr_run"]

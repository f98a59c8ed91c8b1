"""Comparing found formulas with the truth and with other methods."""

from .metrics import accuracy_solution, complexity, r2_score, symbolic_solution

__all__ = ["symbolic_solution", "accuracy_solution", "complexity", "r2_score"]

r"""SRBench's success criteria (La Cava et al. 2021) and model complexity.

*Symbolic solution*: with every float of the found model rounded to 3
decimals and constants :math:`|c| < 10^{-4}` set to 0, the difference
``truth - found`` simplifies to 0 or a constant, or the ratio
``found / truth`` simplifies to a non-zero constant.

*Accuracy solution*: test :math:`R^2 > 0.999`.

*Complexity*: the number of nodes of the sympy expression tree.

Symbols are matched by name, so a found ``Symbol("x", real=True)`` and a
true ``Symbol("x")`` are the same variable.  Rounded floats become exact
decimal rationals (0.333 stays 333/1000; it does not become 1/3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from .._timelimit import TimeLimitExceeded, time_limit
from ..errors import InputTypeError

__all__ = ["symbolic_solution", "SimplifyTimeout", "accuracy_solution", "complexity", "r2_score",
           "round_constants"]


def _expr(e: Any, what: str) -> sympy.Expr:
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        return sympy.Float(e) if isinstance(e, float) else sympy.Integer(e)
    if not isinstance(e, sympy.Expr):
        raise InputTypeError(f"{what} must be a sympy expression (parse text first), "
                             f"got {type(e).__name__}")
    return e.xreplace({s: sympy.Symbol(s.name) for s in e.free_symbols})


def round_constants(expr: sympy.Expr, decimals: int = 3, zero: float = 1e-4) -> sympy.Expr:
    """Floats rounded to ``decimals`` places as exact rationals; |c| < zero -> 0."""
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        rep[f] = sympy.Integer(0) if abs(v) < zero else sympy.Rational(
            round(v * 10 ** decimals), 10 ** decimals)
    return expr.xreplace(rep)


def _is_constant(e: sympy.Expr) -> bool:
    return not e.free_symbols and e.is_finite is not False and e != sympy.zoo \
        and e != sympy.nan


class SimplifyTimeout(TimeLimitExceeded):
    """``sympy.simplify`` ran past the time limit."""


def symbolic_solution(found: Any, truth: Any, timeout: float | None = 30.0) -> bool:
    """Whether ``found`` is the SRBench symbolic solution of ``truth``.

    ``sympy.simplify`` can run for minutes on long candidates; after
    ``timeout`` seconds the check gives up and raises :class:`SimplifyTimeout`
    (catch it to count the case as not recovered)."""
    found = round_constants(_expr(found, "found"))
    truth = _expr(truth, "truth")
    with time_limit(timeout, SimplifyTimeout,
                    f"simplification took longer than {timeout} s"):
        # simplify alone misses identities of sums inside trigonometric and
        # hyperbolic functions (tanh(atanh(x) + atanh(y)) is (x+y)/(1+xy))
        for form in (lambda e: e, sympy.expand_trig):
            f, t = form(found), form(truth)
            diff = sympy.simplify(t - f)
            if _is_constant(diff):
                return True
            if f == 0 or t == 0:
                return False
            ratio = sympy.simplify(f / t)
            if _is_constant(ratio) and ratio != 0:
                return True
        return False


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination (scikit-learn's), non-finite predictions -> -inf."""
    from sklearn.metrics import r2_score as _r2

    y_pred = np.asarray(y_pred, float)
    if not np.isfinite(y_pred).all():
        return float("-inf")
    return float(_r2(np.asarray(y_true, float), y_pred))


def accuracy_solution(y_true: Any, y_pred: Any, threshold: float = 0.999) -> bool:
    """Test R^2 above ``threshold`` (SRBench: 0.999)."""
    return r2_score(y_true, y_pred) > threshold


def complexity(expr: Any) -> int:
    """Number of nodes of the sympy expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(_expr(expr, "expr")))

"""The SRBench success criteria on a table of (found, truth, verdict) cases.

Rule (issue 7, La Cava et al. 2021): with the found model's floats rounded to
3 decimals and constants |c| < 1e-4 set to 0, it is a *symbolic solution*
when ``truth - found`` simplifies to 0 or a constant, or ``found / truth``
simplifies to a non-zero constant; an *accuracy solution* when test
R^2 > 0.999 (strictly).

Every verdict below follows from that rule.  Left out on purpose:

* ``2**x`` vs ``exp(x*log(2))`` is the same function, but ``sympy.simplify``
  (1.14) does not prove it (it leaves ``-2**x + exp(x*log(2))``), so the
  check says False: a sympy limitation that SRBench's own check shares;
* ``log(x*y)`` vs ``log(x) + log(y)`` holds only for positive x, y; the
  check matches plain symbols by name, with no sign assumptions.
"""

import numpy as np
import pytest
import sympy

from kandiscover.compare.metrics import accuracy_solution, r2_score, symbolic_solution
from kandiscover.symbolic.parse import parse_formula

# (id, found, truth, verdict)
CASES = [
    # the same formula, and what the rule forgives
    ("exact", "x*y", "x*y", True),
    ("additive-offset", "x*y - 1.23456", "x*y", True),
    ("scale-factor", "3.7*x*y", "x*y", True),
    ("negative-scale", "-x*y", "x*y", True),
    ("offset-inside-exp-is-a-scale", "exp(x + 0.6931)", "exp(x)", True),
    ("scale-inside-log-is-an-offset", "log(2.5*x)", "log(x)", True),
    ("decimal-for-fraction", "0.5*m*v**2", "m*v**2/2", True),
    ("float-rounds-to-one", "0.99999*x", "x", True),
    ("float-rounds-to-one-in-product", "1.0004*x*y", "x*y", True),
    ("float-rounds-inside-sin", "sin(1.0004*x)", "sin(x)", True),
    ("exponent-rounds-to-integer", "x**2.0004", "x**2", True),
    ("exponent-rounds-to-half", "x**0.5", "sqrt(x)", True),
    ("tiny-term-dropped", "x*y + 0.00005*z", "x*y", True),
    ("term-rounding-to-zero-dropped", "x*y + 0.0004*z", "x*y", True),
    ("rounded-gaussian-normalisation", "exp(-x**2/2)/2.5066", "exp(-x**2/2)/sqrt(2*pi)",
     True),
    ("pi-as-scale-factor", "3.14159*x", "pi*x", True),
    # equivalent rewritings sympy proves
    ("pythagoras", "x*(sin(y)**2 + cos(y)**2)", "x", True),
    ("exp-of-log", "exp(log(x))", "x", True),
    ("expanded-square", "x**2 + 2*x*y + y**2", "(x + y)**2", True),
    ("double-angle", "2*sin(x)*cos(x)", "sin(2*x)", True),
    ("cos-double-angle", "cos(2*x)", "1 - 2*sin(x)**2", True),
    ("phase-shift", "cos(x - pi/2)", "sin(x)", True),
    ("tanh-addition", "tanh(atanh(x) + atanh(y))", "(x + y)/(1 + x*y)", True),
    ("hyperbolic-identity", "cosh(x)**2 - sinh(x)**2 + x", "x", True),
    ("cancelled-fraction", "(x**2 - 1)/(x - 1)", "x + 1", True),
    ("parallel-resistors", "1/(1/x + 1/y)", "x*y/(x + y)", True),
    ("tan-as-ratio", "sin(x)/cos(x)", "tan(x)", True),
    # near misses
    ("offset-and-scale-together", "2*sin(x) + 1", "sin(x)", False),
    ("exponent-off", "x**2.01", "x**2", False),
    ("exponent-not-one-third", "x**0.333", "x**(1/3)", False),
    ("frequency-off", "sin(1.002*x)", "sin(x)", False),
    ("small-extra-term", "sin(x) + 0.01*x", "sin(x)", False),
    ("term-rounding-to-0.001-kept", "x*y + 0.0006*z", "x*y", False),
    ("extra-term", "x*y + x", "x*y", False),
    ("wrong-variable", "x*z", "x*y", False),
    ("shifted-denominator", "1/(x + 1)", "1/x", False),
    ("sign-of-exponent", "exp(-x)", "exp(x)", False),
    ("sum-for-product", "x + y", "x*y", False),
    ("cos-for-sin", "cos(x)", "sin(x)", False),
    ("pi-not-recovered-inside-sin", "sin(3.14159*x)", "sin(pi*x)", False),
    ("constant-model", "2.5", "x", False),
    ("tiny-scale-zeroes-the-model", "0.00001*x", "x", False),
    ("sqrt-of-square-is-abs", "sqrt(x**2)", "x", False),
]


@pytest.mark.parametrize("found, truth, verdict", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_symbolic_solution_table(found, truth, verdict):
    assert symbolic_solution(parse_formula(found), parse_formula(truth)) is verdict


def test_table_is_large_and_balanced():
    assert len(CASES) >= 24
    assert len({c[0] for c in CASES}) == len(CASES)
    assert sum(c[3] for c in CASES) >= 10 and sum(not c[3] for c in CASES) >= 10


def test_symbols_match_by_name_whatever_their_assumptions():
    xp = sympy.Symbol("x", positive=True)
    # sympy already reads sqrt(x**2) as x for a positive x ...
    assert symbolic_solution(sympy.sqrt(xp ** 2), parse_formula("x"))
    # ... and a found x with assumptions is the truth's plain x
    assert symbolic_solution(3 * xp, parse_formula("x"))
    assert symbolic_solution(xp + 1, parse_formula("x"))
    assert not symbolic_solution(sympy.Symbol("y", positive=True), parse_formula("x"))


# ---------------------------------------------------------------- accuracy
Y_TRUE = np.array([10.0, -10.0] * 5)   # mean 0, sum of squares 1000


def _shifted(first):
    y = Y_TRUE.copy()
    y[0] += first
    return y


@pytest.mark.parametrize("y_pred, r2, verdict", [
    (Y_TRUE, 1.0, True),
    (_shifted(0.9), 1 - 0.81 / 1000, True),
    (_shifted(1.0), 0.999, False),          # exactly at the threshold: not above it
    (_shifted(1.1), 1 - 1.21 / 1000, False),
    (np.zeros(10), 0.0, False),
    (_shifted(np.inf), -np.inf, False),     # non-finite predictions
], ids=["perfect", "above-0.999", "exactly-0.999", "below-0.999", "mean-only",
        "non-finite"])
def test_accuracy_solution_table(y_pred, r2, verdict):
    assert r2_score(Y_TRUE, y_pred) == pytest.approx(r2, abs=1e-12)
    assert accuracy_solution(Y_TRUE, y_pred) is verdict


def test_accuracy_threshold_is_strict_and_adjustable():
    assert r2_score(Y_TRUE, _shifted(1.0)) == 0.999
    assert not accuracy_solution(Y_TRUE, _shifted(1.0))
    assert accuracy_solution(Y_TRUE, _shifted(1.0), threshold=0.998)
    assert not accuracy_solution(Y_TRUE, _shifted(0.9), threshold=0.9995)

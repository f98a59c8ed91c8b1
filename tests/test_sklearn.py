"""KANRegressor passes scikit-learn's estimator checks.

Small settings keep each check quick: one grid size, 2 LBFGS steps and a
time budget that stops after the first candidate structure.  One check is
expected to fail at times (EXPECTED_FAILED_CHECKS); ``check_array_api_input``
skips itself unless SCIPY_ARRAY_API is set.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kandiscover import KANRegressor

# Two fits of the same data agree to about 1e-5 relative, not to sklearn's 1e-7:
# measured 2026-11-24, 1 to 7 in 25 repeats of the check in one process differ
# (e.g. a coefficient 0.368094 against 0.368089), also with one torch thread,
# OMP/OPENBLAS/MKL_NUM_THREADS=1 and MKL_CBWR=COMPATIBLE, and without the sympy
# time limits.  The spline network is the same every time; the symbolic
# candidate read from it is not (loss 0.6148559 in 33 of 40 fits, 0.6148531 in
# 7), while auto_symbolic on a fixed network is bit-identical, so the step lies
# in the estimator's path between pruning and the compiled formula.  Kept visible
# here (an xfail that may pass) until that path is bit-reproducible.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_supervised_y_2d": "refits agree to ~1e-5 relative, not 1e-7 (see the comment above)",
}


# A budget already spent at the first check: only the first structure is fitted,
# every time.  (0.01 s sat on the edge: under load the first check fell after it
# and two fits of the same data differed, failing check_supervised_y_2d.)
@parametrize_with_checks(
    [KANRegressor(grid_schedule=(3,), steps=2, time_budget=1e-6, verbose=False)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

"""KANRegressor passes scikit-learn's estimator checks.

Small settings keep each check quick: one grid size, 2 LBFGS steps and a
time budget that stops after the first candidate structure.  No check is
expected to fail; ``check_array_api_input`` skips itself unless
SCIPY_ARRAY_API is set.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kandiscover import KANRegressor

EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [KANRegressor(grid_schedule=(3,), steps=2, time_budget=0.01, verbose=False)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

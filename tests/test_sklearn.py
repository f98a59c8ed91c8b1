"""KANRegressor passes scikit-learn's estimator checks.

Small settings keep each check quick: one grid size, 2 LBFGS steps, a
time budget that stops after the first candidate structure, and a library of
two functions (the whole library's symbolic fits took 15 s per fit, 20 times
longer; the library itself is tested in test_estimator and test_symbolic).
``check_array_api_input`` skips itself unless SCIPY_ARRAY_API is set.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kandiscover import KANRegressor

# A budget already spent at the first check: only the first structure is fitted,
# every time.  (0.01 s sat on the edge: under load the first check fell after it
# and two fits of the same data differed, failing check_supervised_y_2d.)
@parametrize_with_checks(
    [KANRegressor(grid_schedule=(3,), steps=2, time_budget=1e-6, verbose=False,
                  library=["x", "x^2"])])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

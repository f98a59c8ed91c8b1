"""The Operon last-step baseline: features, fitting, the formula check, errors."""

import numpy as np
import pytest
import sympy
from sklearn.metrics import roc_auc_score

from kandiscover.compare.last_step_sr import (LOGIT_TARGET, FormulaMismatchError,
                                              OperonLabelClassifier, check_reproduces,
                                              formula_from_operon_text, last_step_features)
from kandiscover.errors import InputError, InputTypeError

NAMES = ["theta_t", "omega_t", "theta_prev", "omega_prev"]
# Small and stopped by the generation count (well inside the time budget), so
# a fit takes about half a second per label and repeats exactly.
FAST = dict(time_budget=10, generations=5, population_size=300, seed=0)


def threshold_data(seed, n=800):
    """Random windows (n, 4, 2); labels omega_t > 0 and theta_prev > 0.3."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4, 2))
    Y = np.column_stack([X[:, -1, 1] > 0, X[:, -2, 0] > 0.3])
    return X, Y


@pytest.fixture(scope="module")
def data():
    return threshold_data(1), threshold_data(2)


@pytest.fixture(scope="module", params=["logit", "probability"])
def fitted(request, data):
    (X, Y), _ = data
    return OperonLabelClassifier(target=request.param, **FAST).fit(X, Y)


# ------------------------------------------------------------------ features
def test_last_step_features_values_and_names():
    X = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    feats, names = last_step_features(X)
    assert names == NAMES
    np.testing.assert_array_equal(feats, np.column_stack([X[:, 2, 0], X[:, 2, 1],
                                                          X[:, 1, 0], X[:, 1, 1]]))
    _, named = last_step_features(X, input_names=["q", "p"])
    assert named == ["q_t", "p_t", "q_prev", "p_prev"]
    _, three = last_step_features(np.zeros((1, 2, 3)))
    assert three == ["x0_t", "x1_t", "x2_t", "x0_prev", "x1_prev", "x2_prev"]


# ------------------------------------------------------------------ fitting
def test_threshold_label_is_found(fitted, data):
    _, (Xt, Yt) = data
    P = fitted.predict_proba(Xt)
    assert P.shape == (len(Xt), 2)
    assert np.all((P >= 0) & (P <= 1))
    for j in range(2):
        assert roc_auc_score(Yt[:, j], P[:, j]) > 0.95
    # omega_t > 0 is read from omega_t
    assert sympy.Symbol("omega_t") in fitted.formulas_[0].free_symbols
    assert fitted.predict(Xt).dtype == bool


def test_formulas_are_sympy_and_match_decision_function(fitted, data):
    _, (Xt, _) = data
    feats, names = last_step_features(Xt)
    assert fitted.feature_names_ == names
    D = fitted.decision_function(Xt)
    symbols = sympy.symbols(names)
    for j, f in enumerate(fitted.formulas_):
        assert isinstance(f, sympy.Expr)
        assert f.free_symbols <= set(symbols)
        values = sympy.lambdify(symbols, f, "numpy")(*feats.T)
        np.testing.assert_allclose(np.broadcast_to(values, D[:, j].shape), D[:, j],
                                   rtol=1e-12)
        assert fitted.stats_[j]["check_rel_diff"] <= fitted.stats_[j]["check_tolerance"]
    latex = fitted.latex()
    assert len(latex) == 2 and all(isinstance(t, str) and t for t in latex)


def test_scores_follow_the_target(fitted, data):
    _, (Xt, _) = data
    D, P = fitted.decision_function(Xt), fitted.predict_proba(Xt)
    expected = 1 / (1 + np.exp(-D)) if fitted.target == "logit" else np.clip(D, 0, 1)
    np.testing.assert_allclose(P, expected)
    if fitted.target == "logit":
        # regressed onto +-ln 9: positives sit near +ln 9 on the training data
        (X, Y), _ = data
        d = fitted.decision_function(X)[:, 0]
        assert abs(np.median(d[Y[:, 0]]) - LOGIT_TARGET) < 0.5


def test_operon_settings_and_subsample(data):
    (X, Y), _ = data
    clf = OperonLabelClassifier(max_samples=100, **{**FAST, "time_budget": 2.7}).fit(
        X, Y[:, 0], feature_names=["a", "b"])
    assert clf.feature_names_ == ["a_t", "b_t", "a_prev", "b_prev"]
    expected = np.sort(np.random.default_rng(0).choice(len(X), 100, replace=False))
    np.testing.assert_array_equal(clf.train_rows_, expected)
    reg = clf.operon_models_[0]
    assert reg.max_time == 2 and reg.n_threads == 1
    assert clf.predict_proba(X).shape == (len(X), 1)


def test_same_seed_same_formula(data):
    """Single-threaded Operon repeats exactly when the generation limit (not
    the clock) stops it."""
    (X, Y), _ = data
    a = OperonLabelClassifier(**FAST).fit(X, Y)
    b = OperonLabelClassifier(**FAST).fit(X, Y)
    assert [s["generations"] for s in a.stats_] == [5, 5] == [s["generations"] for s in b.stats_]
    assert [sympy.srepr(f) for f in a.formulas_] == [sympy.srepr(f) for f in b.formulas_]


# ------------------------------------------------------------------ reading Operon's text
def test_operon_text_numbers_and_names():
    ph = ["x0", "x1"]
    text = "((-3.000000) + (1.5e-08 * (((2.500000 * x0) ^ 2) / (0.100000001490116 * x1))))"
    expr = formula_from_operon_text(text, ph, ["theta t", "exp"])
    t, e = sympy.Symbol("theta t"), sympy.Symbol("exp")
    value = expr.subs({t: 2.0, e: 4.0})
    assert float(value) == pytest.approx(-3 + 1.5e-8 * 25 / 0.4, rel=1e-12)
    assert expr.free_symbols == {t, e}
    tiny = formula_from_operon_text("(0.000000000012300000 * x0)", ph, ["a", "b"])
    assert tiny == sympy.Float(1.23e-11) * sympy.Symbol("a")
    with pytest.raises(FormulaMismatchError, match="non-finite"):
        formula_from_operon_text("(inf * x0)", ph, ["a", "b"])


def test_check_reproduces_catches_a_wrong_formula():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32).astype(np.float64)
    a, b = sympy.symbols("a b")
    truth = (np.exp(X[:, 0]) - X[:, 1]).astype(np.float32)
    out = check_reproduces(sympy.exp(a) - b, ["a", "b"], X, truth)
    assert out["rel_diff"] <= out["tolerance"] < 1e-4
    with pytest.raises(FormulaMismatchError, match="does not reproduce"):
        check_reproduces(sympy.exp(a) + b, ["a", "b"], X, truth)
    with pytest.raises(FormulaMismatchError, match="does not reproduce"):
        check_reproduces(1.00001 * sympy.exp(a) - b, ["a", "b"], X, truth)  # 6th digit
    # Operon's own float32 rounding can be larger than numpy's: 15x passes
    noisy = (np.exp(X[:, 0]) - X[:, 1]) * (1 + 15 * out["float32_rel"] * rng.choice([-1, 1], 200))
    assert check_reproduces(sympy.exp(a) - b, ["a", "b"], X, noisy)["rel_diff"] > 10 * out[
        "float32_rel"]


# ------------------------------------------------------------------ errors
def test_bad_inputs():
    X, Y = threshold_data(0, n=50)
    clf = OperonLabelClassifier(**FAST)
    Xn = X.copy()
    Xn[3, 1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        clf.fit(Xn, Y)
    with pytest.raises(InputError, match="3-D"):
        clf.fit(X[:, -1, :], Y)
    with pytest.raises(InputError, match="at least 2 steps"):
        clf.fit(X[:, -1:, :], Y)
    with pytest.raises(InputError, match="at least 2 steps"):
        last_step_features(X[:, :1, :])
    with pytest.raises(InputError, match="binary"):
        clf.fit(X, Y.astype(float) * 2)
    with pytest.raises(InputError, match="rows"):
        clf.fit(X, Y[:-1])
    with pytest.raises(InputError, match="both classes"):
        clf.fit(X, np.column_stack([Y[:, 0], np.zeros(50)]))
    with pytest.raises(InputError, match="feature_names"):
        clf.fit(X, Y, feature_names=["a", "b", "c"])
    with pytest.raises(InputError, match="repeats"):
        last_step_features(X, input_names=["a", "a"])
    with pytest.raises(InputTypeError):
        clf.fit(X.astype(str), Y)
    with pytest.raises(InputError, match="target"):
        OperonLabelClassifier(target="odds").fit(X, Y)
    with pytest.raises(InputError, match="cbrt"):
        OperonLabelClassifier(allowed_symbols="add,mul,variable,constant,cbrt").fit(X, Y)
    with pytest.raises(InputError, match="time_budget"):
        OperonLabelClassifier(time_budget=0).fit(X, Y)
    with pytest.raises(InputError, match="not fitted"):
        clf.predict_proba(X)


def test_predict_checks_the_windows(fitted, data):
    (X, _), _ = data
    with pytest.raises(InputError, match="features per step"):
        fitted.decision_function(np.zeros((3, 4, 3)))
    with pytest.raises(InputError, match="at least 2 steps"):
        fitted.predict_proba(X[:, :1])

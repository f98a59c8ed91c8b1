"""The formula compiler: exact networks, round trips, prior knowledge, bad input."""

import numpy as np
import pytest
import sympy
import torch

import kandiscover as kd
from kandiscover.compare.metrics import SimplifyTimeout
from kandiscover.data.feynman import feynman_equations
from kandiscover.errors import InputError, InputTypeError
from kandiscover.symbolic.export import render_check

CASES = [
    ("sin(5*a) + cos(3*a)", ["a"]),
    ("x*y*z", ["x", "y", "z"]),
    ("x**1.5", ["x"]),
    ("x**(2/3)", ["x"]),
    ("abs(x - y)", ["x", "y"]),
    ("exp(-x)*sin(x)", ["x"]),
    ("sqrt(x**2 + y**2 + z**2)", ["x", "y", "z"]),
    ("sinh(x) + cosh(y)", ["x", "y"]),          # not in the library: through exp
    ("-x*y + pi*tanh(2*x - 1)/3", ["x", "y"]),
]


def _max_rel_err(model, expr, names, X):
    fn = sympy.lambdify([sympy.Symbol(n) for n in names], expr, "numpy")
    ref = np.broadcast_to(np.asarray(fn(*X.T), float), (len(X),))
    got = model.predict(X)[:, 0]
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))


@pytest.mark.parametrize("text, names", CASES)
def test_listed_formulas_compile_exactly_and_round_trip(text, names):
    expr = kd.parse_formula(text, names)
    model = kd.compile_formula(text, names)
    X = np.random.default_rng(1).uniform(0.2, 2.0, (500, len(names)))
    assert _max_rel_err(model, expr, names, X) < 1e-12
    back = kd.to_sympy(model, names, X_check=X[:200])
    assert kd.symbolic_solution(back, expr)
    render_check(kd.to_latex(back))


def test_terms_on_one_variable_get_their_own_edges():
    """pykan issue 557: sin(5a) + cos(3a) compiled to sin(5a) alone."""
    model = kd.compile_formula("sin(5*a) + cos(3*a)", ["a"])
    names = sorted(e.name for layer in model.layers for e in layer.symbolic.values())
    assert "sin" in names and "cos" in names
    assert model.n_edges() >= 3


def test_user_registered_functions_compile():
    from kandiscover.symbolic import library

    def sinc(x):
        return torch.where(x == 0, torch.ones_like(x), torch.sin(x) / x)
    library.register("sinc_u", sinc, sympy.sinc, 3)
    try:
        m = kd.compile_formula("2*sinc_u(3*x) + y", ["x", "y"])
        X = np.random.default_rng(0).uniform(0.1, 2, (100, 2))
        expected = 2 * np.sin(3 * X[:, 0]) / (3 * X[:, 0]) + X[:, 1]
        np.testing.assert_allclose(m.predict(X)[:, 0], expected, rtol=1e-12)
    finally:
        library.unregister("sinc_u")


def test_products_of_any_arity_and_quotients():
    m = kd.compile_formula("u*v*w*x/y", ["u", "v", "w", "x", "y"])
    assert m.mult_arity[-1] == [5]
    reciprocal = [e.name for e in m.layers[0].symbolic.values()]
    assert "1/x" in reciprocal


def test_every_feynman_equation_compiles_exactly():
    worst = {}
    for eq in feynman_equations():
        X, _ = eq.sample(1000, 0)
        model = kd.compile_formula(eq.expression, list(eq.variables),
                                   ranges=dict(zip(eq.variables, eq.ranges)))
        worst[eq.name] = _max_rel_err(model, eq.expression, eq.variables, X)
    assert len(worst) == 100
    bad = {k: v for k, v in worst.items() if not v < 1e-6}
    assert not bad, bad


@pytest.mark.slow
def test_every_feynman_equation_round_trips():
    failed = []
    for eq in feynman_equations():
        X, _ = eq.sample(300, 0)
        model = kd.compile_formula(eq.expression, list(eq.variables),
                                   ranges=dict(zip(eq.variables, eq.ranges)))
        back = kd.to_sympy(model, list(eq.variables), X_check=X)
        try:
            ok = kd.symbolic_solution(back, eq.expression, timeout=20)
        except SimplifyTimeout:
            ok = False
        if not ok:
            failed.append((eq.name, str(back)))
    assert not failed, failed


def test_powers_of_any_exponent_save_and_load(tmp_path):
    m = kd.compile_formula("x**(2/3) + y**-3 + x**1.7", ["x", "y"])
    path = kd.save(m, tmp_path / "m.h5")
    back = kd.load(path)
    X = np.random.default_rng(0).uniform(0.5, 2, (50, 2))
    np.testing.assert_allclose(back.predict(X), m.predict(X), rtol=1e-14)
    assert {"x^(2/3)", "x^-3", "x^1.7"} <= {e.name for e in back.layers[0].symbolic.values()}


def test_unfix_releases_an_edge_into_a_spline_of_the_same_shape():
    m = kd.compile_formula("2*sin(x) + exp(-z)", ["x", "z"],
                           ranges={"x": (-2, 2), "z": (0, 1)}, grid=10)
    X = np.random.default_rng(0).uniform([-2, 0], [2, 1], (400, 2))
    ref = m.predict(X)
    m.unfix_all(X)
    assert all(not layer.symbolic for layer in m.layers)
    assert np.abs(m.predict(X) - ref).max() < 1e-3
    with pytest.raises(InputError, match="not symbolic"):
        m.unfix(0, 0, 0)


def test_expansions_keep_the_output_and_train_the_new_capacity():
    m = kd.compile_formula("2*sin(x)", ["x", "z"], ranges={"x": (-2, 2), "z": (-2, 2)})
    X = np.random.default_rng(0).uniform(-2, 2, (300, 2))
    ref = m.predict(X)
    deep = m.expand_depth()
    wide = deep.expand_width(1, n_sum=1, n_mult=1)
    assert deep.width_spec == [2, 1, 1] and wide.width_spec == [2, [2, 1], 1]
    for net in (deep, wide):
        assert np.abs(net.predict(X) - ref).max() == 0.0
    before = wide.layers[1].scale_base.detach().clone()
    y = 2 * np.sin(X[:, 0]) + X[:, 0] * X[:, 1]
    wide.fit(X, y, opt="adam", steps=3, lr=0.01, verbose=False)
    # the zero-initialised edges out of the new nodes receive gradients
    assert not torch.equal(wide.layers[1].scale_base.detach()[1:], before[1:])
    with pytest.raises(InputError, match="hidden node layer"):
        m.expand_width(1, n_sum=1)


@pytest.mark.slow
def test_a_wrong_prior_is_corrected_by_training():
    """Data from 3 sin(x) + x z, prior 2 sin(x): expand, train, read back."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (1000, 2))
    y = 3 * np.sin(X[:, 0]) + X[:, 0] * X[:, 1]
    m = kd.compile_formula("2*sin(x)", ["x", "z"], ranges={"x": (-2, 2), "z": (-2, 2)})
    m = m.expand_depth().expand_width(1, n_mult=1)
    m.fit(X, y, opt="adam", steps=200, lr=0.02, verbose=False)
    m.fit(X, y, steps=20, lamb=1e-3, verbose=False)
    m, _ = m.prune(X)
    m = m.refine(10)
    m.fit(X, y, steps=20, verbose=False)
    sym, _ = kd.auto_symbolic(m, X, y, r2_threshold=0.0)
    x, z = sympy.symbols("x z")
    expr = kd.to_sympy(sym, ["x", "z"], X_check=X[:256])
    assert kd.symbolic_solution(expr, 3 * sympy.sin(x) + x * z)
    raw = kd.to_sympy(sym, ["x", "z"], snap=False, digits=None, simplify=False)
    coeff = sympy.expand(raw).coeff(sympy.sin(sympy.Float(1.0) * x)) or \
        next(t.as_coeff_Mul()[0] for t in sympy.Add.make_args(sympy.expand(raw))
             if t.has(sympy.sin))
    assert abs(float(coeff) - 3.0) < 1e-3


@pytest.mark.parametrize("formula, names, err, match", [
    (sympy.floor(sympy.Symbol("x")), ["x"], InputError, "not in the function library"),
    (sympy.sign(sympy.Symbol("x")), ["x"], InputError, "supported: "),
    ("x*y", ["x"], InputError, "y"),
    ("3 + 4", None, InputError, "no variables"),
    (sympy.I * sympy.Symbol("x"), ["x"], InputError, "not a finite real"),
    (42, ["x"], InputTypeError, "str or a sympy expression"),
    ("x + ", ["x"], InputError, "could not parse"),
])
def test_bad_formulas_are_refused(formula, names, err, match):
    with pytest.raises(err, match=match):
        kd.compile_formula(formula, names)


def test_symbols_with_assumptions_match_variables_by_name():
    m, r = sympy.symbols("m r", positive=True)
    net = kd.compile_formula(m / r ** 2, ["m", "r"])
    X = np.array([[2.0, 1.0], [3.0, 2.0]])
    np.testing.assert_allclose(net.predict(X).ravel(), [2.0, 0.75], rtol=1e-12)
    with pytest.raises(InputError, match="uses r"):
        kd.compile_formula(m / r ** 2, ["m"])


def test_cli_compile_and_extract(tmp_path, capsys):
    from kandiscover.cli import main
    out = tmp_path / "g.h5"
    assert main(["compile", "G*m1*m2/r**2", "--vars", "G,m1,m2,r", "--out", str(out),
                 "--plot", str(tmp_path / "g.png"), "--range", "r=1:2"]) == 0
    assert out.exists() and (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["extract", str(out), "--vars", "G,m1,m2,r"]) == 0
    text = capsys.readouterr().out.strip()
    G, m1, m2, r = sympy.symbols("G m1 m2 r")
    assert sympy.simplify(sympy.sympify(text, locals={"G": G}) - G * m1 * m2 / r ** 2) == 0
    assert main(["extract", str(out), "--latex"]) == 0
    render_check(capsys.readouterr().out.strip())


@pytest.mark.parametrize("args, match", [
    (["compile", "foo(x)"], "not a known function"),
    (["compile", "__import__('os').system('x')"], "not allowed"),
    (["compile", "x + 1", "--range", "x=1"], "NAME=LOW:HIGH"),
    (["compile", "x + 1", "--vars", "y"], "not in variables"),
])
def test_cli_compile_refuses_and_writes_nothing(tmp_path, capsys, args, match):
    from kandiscover.cli import main
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(args + ["--out", str(folder / "m.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err
    assert list(folder.iterdir()) == []

"""LaTeX, text and numpy export of formulas."""

import numpy as np
import pytest
import sympy
import torch

from kandiscover.errors import InputError, InputTypeError
from kandiscover.symbolic import library
from kandiscover.symbolic.export import render_check, to_latex, to_numpy, to_text

x, y = sympy.symbols("x y")


@pytest.mark.parametrize("name, expected", [
    ("x", "x"),
    ("G", "G"),
    ("theta", r"\theta"),
    ("Theta", r"\Theta"),
    ("omega", r"\omega"),
    ("varepsilon", r"\varepsilon"),
    ("lambd", r"\lambda"),
    ("lamda", r"\lambda"),
    ("Gamma", r"\Gamma"),
    ("Alpha", "A"),
    ("omicron", "o"),
    ("m1", "m_{1}"),
    ("x12", "x_{12}"),
    ("theta0", r"\theta_{0}"),
    ("omega_0", r"\omega_{0}"),
    ("E_n", "E_{n}"),
    ("v_max", r"v_{\mathrm{max}}"),
    ("x_1_2", "x_{1,2}"),
    ("m1_max", r"m_{1,\mathrm{max}}"),
    ("mass", r"\mathrm{mass}"),
    ("Ef", r"\mathrm{Ef}"),
])
def test_symbol_names(name, expected):
    tex = to_latex(sympy.Symbol(name))
    assert tex == expected
    render_check(tex)


def test_name_rules_reach_symbols_inside_functions_and_powers():
    th, w0 = sympy.symbols("theta omega_0")
    assert to_latex(sympy.sin(w0 * th) ** 2) == r"\sin^{2}{\left(\omega_{0} \theta \right)}"


def test_every_greek_name_renders():
    letters = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambd mu nu "
               "xi omicron pi rho sigma tau upsilon phi chi psi omega vartheta varphi "
               "varpi varrho varsigma varkappa Alpha Beta Gamma Delta Epsilon Zeta Eta "
               "Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho Sigma Tau Upsilon Phi "
               "Chi Psi Omega").split()
    syms = sympy.symbols([f"{g}_1" for g in letters])
    tex = to_latex(sympy.Add(*syms))
    assert r"\varkappa_{1}" in tex and r"\Upsilon_{1}" in tex and "X_{1}" in tex
    render_check(tex)


def test_newton_gravity_exact_string():
    G, m1, m2, r = sympy.symbols("G m1 m2 r")
    assert to_latex(G * m1 * m2 / r ** 2) == r"\frac{G m_{1} m_{2}}{r^{2}}"


def test_names_override_by_name_or_symbol():
    assert to_latex(x * y, names={"x": r"\xi", y: r"\mathcal{Y}"}) == r"\xi \mathcal{Y}"
    with pytest.raises(InputTypeError, match="names"):
        to_latex(x, names=[("x", "a")])
    with pytest.raises(InputTypeError, match="names"):
        to_latex(x, names={"x": 3})


def _library_exprs():
    u = sympy.Symbol("v_max") + sympy.Symbol("theta0")
    for name in library.names():
        fn = library.get(name).sympy_fn
        yield name, fn(x)
        yield name + " of a sum", fn(u)
        yield name + " squared", fn(x) ** 2


@pytest.mark.parametrize("label, expr", list(_library_exprs()))
def test_library_latex_renders(label, expr):
    render_check(to_latex(expr))


def test_inverse_trig_and_log_notation():
    assert to_latex(sympy.asin(x)) == r"\arcsin{\left(x \right)}"
    assert to_latex(sympy.log(x)) == r"\ln{\left(x \right)}"
    assert r"\operatorname{asin}" not in to_latex(sympy.asin(x) + sympy.acos(x) + sympy.atan(x))


@pytest.mark.parametrize("expr", [
    sympy.pi * x, sympy.E * x, sympy.Rational(3, 7) * x, sympy.Float(2.5e-20) * x,
    sympy.exp(sympy.sin(sympy.pi * x) + y ** 2), sympy.Function("f")(x),
    sympy.Function("my_fn")(x, y), sympy.Mod(x, 3), sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi),
])
def test_other_constructs_render(expr):
    render_check(to_latex(expr))


def test_floats_are_shortened():
    assert to_latex(sympy.Float(0.12345678912345678) * x) == "0.123456789123457 x"
    assert to_latex(sympy.Float(0.12345678912345678) * x, digits=3) == "0.123 x"
    assert to_latex(sympy.Float(1.0004) * x - sympy.Float(0.99996) * y, digits=3) == "x - y"
    assert to_latex(x / y, inline_fractions=True) == "x / y" and to_latex(x / y) == "\\frac{x}{y}"
    with pytest.raises(InputError, match="digits"):
        to_latex(x, digits=0)


def test_to_latex_input_types():
    assert to_latex(3) == "3"
    assert to_latex(0.5) == "0.5"
    with pytest.raises(InputTypeError, match="string"):
        to_latex("x**2")
    with pytest.raises(InputTypeError):
        to_latex(sympy.Eq(x, 1))
    with pytest.raises(InputTypeError):
        to_latex(True)


@pytest.mark.parametrize("bad", [r"\frac{1}{", r"\nosuchmacro x", "x^", ""])
def test_render_check_rejects_malformed(bad):
    with pytest.raises(InputError, match="mathtext"):
        render_check(bad)


def test_render_check_type():
    with pytest.raises(InputTypeError):
        render_check(sympy.Symbol("x"))


def test_to_text_form():
    assert to_text(sympy.exp(sympy.sin(sympy.pi * x) + y ** 2)) == "exp(y**2 + sin(pi*x))"
    with pytest.raises(InputTypeError):
        to_text("x")


def _roundtrip(expr):
    local = {s.name: sympy.Symbol(s.name) for s in expr.free_symbols}
    return sympy.sympify(to_text(expr), locals=local)


@pytest.mark.parametrize("expr", [
    sympy.exp(sympy.sin(sympy.pi * x) + y ** 2),
    sympy.Symbol("G") * sympy.Symbol("m1") * sympy.Symbol("m2") / sympy.Symbol("r") ** 2,
    # names that sympify would otherwise read as constants or functions
    sympy.Symbol("E") * sympy.Symbol("gamma") + sympy.Symbol("beta") ** sympy.Symbol("lambd"),
    sympy.Rational(3, 7) * sympy.atanh(x) + sympy.Abs(y) / sympy.sqrt(x) - sympy.E,
] + [library.get(n).sympy_fn(x + 2 * y) for n in library.names()])
def test_to_text_roundtrip(expr):
    assert _roundtrip(expr) == expr


def test_to_text_keeps_float_values():
    c = 0.12345678912345678
    expr = sympy.Float(c) * x + sympy.Float(1e-20)
    back = _roundtrip(expr)
    assert float(back.coeff(x)) == c
    assert float(back.subs(x, 0)) == 1e-20


def test_to_numpy_matches_numpy():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (50, 2))
    f = to_numpy(sympy.exp(sympy.sin(sympy.pi * x) + y ** 2), ["x", "y"])
    out = f(X)
    assert out.shape == (50,) and out.dtype == np.float64
    np.testing.assert_allclose(out, np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2), rtol=1e-12)

    G, m1, m2, r = sympy.symbols("G m1 m2 r")
    P = rng.uniform(0.5, 2, (20, 4))  # columns r, m1, G, m2
    g = to_numpy(G * m1 * m2 / r ** 2, [r, "m1", "G", m2])
    np.testing.assert_allclose(g(P), P[:, 2] * P[:, 1] * P[:, 3] / P[:, 0] ** 2, rtol=1e-12)


def test_to_numpy_matches_library_torch_forms():
    X = np.linspace(0.1, 0.9, 9)[:, None]
    for name in library.names():
        entry = library.get(name)
        got = to_numpy(entry.sympy_fn(x), ["x"])(X)
        want = entry.torch_fn(torch.from_numpy(X[:, 0])).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


def test_to_numpy_matches_symbols_by_name():
    xp = sympy.Symbol("x", positive=True)
    assert to_numpy(xp ** 2, ["x", "y"])(np.array([[3.0, 7.0]]))[0] == 9.0


def test_constant_expression_broadcasts():
    out = to_numpy(sympy.Integer(3), ["x", "y"])(np.zeros((5, 2)))
    assert out.shape == (5,) and np.all(out == 3.0)
    out[0] = 1.0  # writable, not a broadcast view
    zero = library.get("0").sympy_fn(x)
    assert to_numpy(zero, ["x"])(np.ones((4, 1))).shape == (4,)
    assert to_numpy(2.5, [])(np.empty((3, 0))).tolist() == [2.5, 2.5, 2.5]


def test_to_numpy_bad_inputs():
    f = to_numpy(x + y, ["x", "y"])
    with pytest.raises(InputError, match="2-D"):
        f(np.zeros(4))
    with pytest.raises(InputError, match="3 columns but 2"):
        f(np.zeros((4, 3)))
    with pytest.raises(InputTypeError, match="numeric"):
        f(np.array([["a", "b"]]))
    with pytest.raises(InputError, match="y, z"):
        to_numpy(x + y + sympy.Symbol("z"), ["x"])
    with pytest.raises(InputError, match="repeats x"):
        to_numpy(x, ["x", "x"])
    with pytest.raises(InputError, match="undefined"):
        to_numpy(sympy.Function("f")(x), ["x"])
    with pytest.raises(InputTypeError):
        to_numpy(x, "x")
    with pytest.raises(InputTypeError):
        to_numpy(x, [1])
    with pytest.raises(InputTypeError, match="string"):
        to_numpy("x", ["x"])

"""Safe formula parsing: the whitelist, refusals, and that nothing is evaluated."""

import builtins
import csv
from pathlib import Path

import pytest
import sympy
import sympy.parsing.sympy_parser
import torch

from kandiscover.errors import InputError, InputTypeError
from kandiscover.symbolic import library
from kandiscover.symbolic.parse import parse_formula

FEYNMAN_CSV = (Path(__file__).resolve().parents[1] / "datasets" / "feynman"
               / "FeynmanEquations.csv")      # the copy the repository ships

x, y, a = sympy.symbols("x y a")


# ------------------------------------------------------------ the whitelist
def test_newton_gravity_is_built_from_symbols():
    G, m1, m2, r = sympy.symbols("G m1 m2 r")
    expr = parse_formula("G*m1*m2/r**2")
    assert expr == G * m1 * m2 / r ** 2
    assert expr.free_symbols == {G, m1, m2, r}


@pytest.mark.parametrize("text, expected", [
    ("x^2", x ** 2),
    ("a*x^2 + 1", a * x ** 2 + 1),          # ^ binds like **, not like Python's XOR
    ("x^-2", x ** -2),
    ("2^3^2", sympy.Integer(512)),           # right-associative, as **
    ("-x", -x),
    ("-(x + y)", -x - y),
    ("+x", x),
    ("--x", x),
    ("x - -y", x + y),
    ("(x + y)*(x - y)", (x + y) * (x - y)),
    ("1_000*x", 1000 * x),
    ("ln(x)", sympy.log(x)),
    ("asin(x) + acos(y)", sympy.asin(x) + sympy.acos(y)),
    ("atan(x) + atanh(y)", sympy.atan(x) + sympy.atanh(y)),
    ("Abs(x)", sympy.Abs(x)),
    ("abs(x)", sympy.Abs(x)),
    ("sinh(x) + cosh(y)", sympy.sinh(x) + sympy.cosh(y)),
    ("arcsin(x) + arccos(y) + arctan(a)", sympy.asin(x) + sympy.acos(y) + sympy.atan(a)),
    ("exp(x) * sqrt(y) / tanh(a)", sympy.exp(x) * sympy.sqrt(y) / sympy.tanh(a)),
    ("gaussian(x)", sympy.exp(-x ** 2)),
    ("tan(sin(cos(x)))", sympy.tan(sympy.sin(sympy.cos(x)))),
])
def test_operators_and_functions(text, expected):
    assert parse_formula(text) == expected


def test_integer_division_is_an_exact_rational():
    expr = parse_formula("2/3*x")
    coeff, rest = expr.as_coeff_Mul()
    assert coeff == sympy.Rational(2, 3) and isinstance(coeff, sympy.Rational)
    assert rest == x
    assert isinstance(parse_formula("7"), sympy.Integer)


def test_float_exponent_stays_a_float():
    expr = parse_formula("x**1.5")
    assert isinstance(expr, sympy.Pow) and expr.base == x
    assert isinstance(expr.exp, sympy.Float) and expr.exp == sympy.Float(1.5)
    assert isinstance(parse_formula("1e-3"), sympy.Float)


def test_pi_and_E_are_constants_unless_listed_as_variables():
    assert parse_formula("2*pi") == 2 * sympy.pi
    assert parse_formula("E") is sympy.E
    assert parse_formula("E**x") == sympy.exp(x)
    assert parse_formula("e") == sympy.Symbol("e")        # lower-case e is a name
    expr = parse_formula("E*x", variables=["E", "x"])
    assert expr == sympy.Symbol("E") * x
    assert sympy.E not in expr.atoms()
    assert parse_formula("pi", variables=["pi"]) == sympy.Symbol("pi")
    # Not listed: still the constant, and no variables error for it.
    assert parse_formula("pi*x", variables=["x"]) == sympy.pi * x


@pytest.mark.parametrize("name", ["gamma", "beta", "lambd", "E_n", "I", "S", "N", "Q",
                                  "zeta", "O", "oo", "nan", "Symbol", "Integer", "theta",
                                  "alpha", "chi", "Ef", "pr", "kb", "lamda"])
def test_names_sympy_would_misread_are_plain_symbols(name):
    expr = parse_formula(name)
    assert isinstance(expr, sympy.Symbol)
    assert expr == sympy.Symbol(name)
    assert expr.name == name


def test_I_is_not_the_imaginary_unit():
    expr = parse_formula("I**2 + gamma*beta")
    assert expr == sympy.Symbol("I") ** 2 + sympy.Symbol("gamma") * sympy.Symbol("beta")
    assert parse_formula("I") is not sympy.I
    assert sympy.I not in expr.atoms()
    assert not expr.has(sympy.gamma) and not expr.has(sympy.beta)


def test_function_names_listed_as_variables_are_symbols():
    expr = parse_formula("sin*x + sin(x)", variables=["sin", "x"])
    assert expr == sympy.Symbol("sin") * x + sympy.sin(x)


def test_unused_variables_are_fine_and_whitespace_and_newlines_are_allowed():
    assert parse_formula("  x + y ", variables=["x", "y", "z"]) == x + y
    assert parse_formula("(x +\n y)\n") == x + y
    assert parse_formula("2*x  # a comment") == 2 * x


def test_long_sums_count_as_one_level_of_nesting():
    text = "+".join(f"x{i}" for i in range(200))          # 789 characters
    assert len(text) <= 1000
    expr = parse_formula(text)
    assert len(expr.args) == 200
    assert parse_formula("(" * 50 + "x" + ")" * 50) == x


# ---------------------------------------------------------------- Feynman
def _feynman_rows():
    if not FEYNMAN_CSV.is_file():
        return []
    with FEYNMAN_CSV.open(newline="") as fh:
        return list(csv.DictReader(fh))


_ROWS = _feynman_rows()


@pytest.mark.skipif(not _ROWS, reason=f"Feynman equations not found at {FEYNMAN_CSV}")
def test_every_feynman_formula_parses_with_its_variables():
    assert len(_ROWS) == 100
    for row in _ROWS:
        names = [row[f"v{k}_name"] for k in range(1, int(row["# variables"]) + 1)]
        expr = parse_formula(row["Formula"], variables=names)
        assert isinstance(expr, sympy.Expr), row["Filename"]
        assert expr.free_symbols <= {sympy.Symbol(n) for n in names}, row["Filename"]
        assert expr.free_symbols, row["Filename"]


@pytest.mark.skipif(not _ROWS, reason=f"Feynman equations not found at {FEYNMAN_CSV}")
def test_feynman_spot_checks():
    by_name = {row["Filename"]: row["Formula"] for row in _ROWS}
    theta, lambd, n, d = sympy.symbols("theta lambd n d")
    gamma, pr, V = sympy.symbols("gamma pr V")
    E_n, t, h = sympy.symbols("E_n t h")
    eps, c, I, r = sympy.symbols("epsilon c I r")
    assert parse_formula(by_name["I.6.2a"]) == \
        sympy.exp(-theta ** 2 / 2) / sympy.sqrt(2 * sympy.pi)
    assert parse_formula(by_name["I.30.5"]) == sympy.asin(lambd / (n * d))
    assert parse_formula(by_name["I.39.11"]) == 1 / (gamma - 1) * pr * V
    assert parse_formula(by_name["III.8.54"]) == sympy.sin(E_n * t / (h / (2 * sympy.pi))) ** 2
    assert parse_formula(by_name["II.13.17"]) == \
        1 / (4 * sympy.pi * eps * c ** 2) * 2 * I / r


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("text, fragment", [
    ("x.real", "'x.real'"),
    ("x[0]", "'x[0]'"),
    ("sin(x)[0]", "indexing"),
    ("lambda: x", "lambda"),
    ("[x for x in y]", "comprehension"),
    ("(x for x in y)", "comprehension"),
    ("{x: 1 for x in y}", "comprehension"),
    ("x < 1", "'x < 1'"),
    ("x == y", "comparison"),
    ("x in y", "comparison"),
    ("x and y", "'x and y'"),
    ("x or y", "boolean"),
    ("not x", "'not x'"),
    ("a if b else c", "'a if b else c'"),
    ("log(x, base=2)", "'base=2'"),
    ("sin(*xs)", "'*xs'"),
    ("sin(**kw)", "'**kw'"),
    ("'x'", "text literal"),
    ("b'x'", "text literal"),
    ("f'{x}'", "f-string"),
    ("(y := 2)", ":="),
    ("sin()", "0 arguments"),
    ("sin(x, y)", "2 arguments"),
    ("log(x, 2)", "log(x)/log(b)"),
    ("(x)(2)", "'x'"),
    ("2(x + 1)", "'2(x + 1)'"),
    ("sin(x)(y)", "only named functions"),
    ("__import__", "'__import__'"),
    ("__builtins__ + 1", "'__builtins__'"),
    ("x % 2", "'%'"),
    ("x // 2", "'//'"),
    ("x @ y", "'@'"),
    ("x << 2", "'<<'"),
    ("x >> 2", "'>>'"),
    ("x & y", "'&'"),
    ("x | y", "'|'"),
    ("~x", "'~'"),
    ("True", "'True'"),
    ("None", "'None'"),
    ("...", "'...'"),
    ("1j", "complex"),
    ("x, y", "tuple"),
    ("[x]", "list"),
    ("{x}", "set"),
    ("gamma(x)", "'gamma' at column 1 is not a known function"),
    ("foo(x)", "'foo'"),
    ("x(y + 1)", "x*(...)"),
    ("pi(x)", "constant"),
    ("x + x(1)", "column 5"),
    ("sin + x", "call it as sin(...)"),
    ("exp", "call it as exp(...)"),
    ("1e999", "too large"),
    ("x/0", "divides by zero"),
    ("log(0)", "infinite or undefined"),
    ("3**10**10", "too large to compute exactly"),
    ("(2*x)^10^9", "too large to compute exactly"),
    ("exp(10**10*log(3))", "too large to compute exactly"),
    ("E**(10**10*log(3))", "too large to compute exactly"),
    ("", "empty"),
    (" \n\t", "empty"),
    ("x\0", "null character"),
    ("x + * y", "could not parse the formula"),
    ("x +", "at the end"),
    ("(x", "never closed"),
    ("x y", "column"),
    ("m\u00b7a + F", "middle dot"),       # Python would read m\u00b7a as one name
    ("sqrt(-1)", "not a real number"),
    ("x + log(-2)", "column 5 is not a real number"),
])
def test_refused_constructs_name_the_offending_part(text, fragment):
    with pytest.raises(InputError) as info:
        parse_formula(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)          # InputError is a ValueError


def test_unknown_function_message_lists_known_functions():
    with pytest.raises(InputError) as info:
        parse_formula("zeta(x) + 1")
    msg = str(info.value)
    assert "'zeta'" in msg and "known functions" in msg
    for name in ("sin", "arctanh", "gaussian", "ln", "sinh"):
        assert name in msg
    assert "x^2" not in msg and ", 0," not in msg and ", x," not in msg


@pytest.mark.parametrize("text, column", [
    ("x + y.real", "column 5"),
    ("x^2 + y.real", "column 7"),          # ^ -> ** must not shift the columns
    ("θ + y.real", "column 5"),            # columns count characters, not bytes
    ("  x + y.real", "column 7"),          # leading blanks are kept in the count
    ("(x +\n  y.real)", "line 2, column 3"),
    ("x + * y", "column 5"),
    ("x^2 + * y", "column 7"),
])
def test_messages_give_the_column_in_the_original_text(text, column):
    with pytest.raises(InputError) as info:
        parse_formula(text)
    assert column in str(info.value)


def test_attribute_snippet_is_quoted_exactly():
    with pytest.raises(InputError, match=r"'y\.real' at column 7"):
        parse_formula("x^2 + y.real")


def test_lambda_as_a_name_suggests_lambd():
    with pytest.raises(InputError, match="lambd") as info:
        parse_formula("h*c/lambda")
    assert "could not parse" in str(info.value)
    with pytest.raises(InputError, match="lambd"):
        parse_formula("x", variables=["lambda"])


def test_too_long_text_says_length_and_limit():
    text = "x+" * 500 + "x"
    with pytest.raises(InputError) as info:
        parse_formula(text)
    assert "1001" in str(info.value) and "1000" in str(info.value)


@pytest.mark.parametrize("text", [
    "(" * 51 + "x" + ")" * 51,
    "sin(" * 51 + "x" + ")" * 51,
    "[" * 60 + "x" + "]" * 60,
    "-" * 60 + "x",
    "x**" * 60 + "x",
    "-" * 999 + "x",             # Python's own parser runs out of stack on this
    "(" * 999,
])
def test_deep_nesting_is_refused(text):
    with pytest.raises(InputError, match="nest"):
        parse_formula(text)


def test_non_string_text_is_a_type_error():
    for bad in (None, 3, b"x", ["x"], sympy.Symbol("x")):
        with pytest.raises(InputTypeError, match="string"):
            parse_formula(bad)


@pytest.mark.parametrize("variables, error, fragment", [
    ("xy", InputTypeError, "list of variable names"),
    (3, InputTypeError, "list of variable names"),
    (["x", 1], InputTypeError, "variables[1]"),
    (["x", "m 1"], InputError, "'m 1'"),
    (["x", "2x"], InputError, "'2x'"),
    (["if"], InputError, "'if'"),
    (["__x__"], InputError, "'__x__'"),
    (["x", "y", "x"], InputError, "twice"),
])
def test_variables_are_validated(variables, error, fragment):
    with pytest.raises(error) as info:
        parse_formula("x", variables=variables)
    assert fragment in str(info.value)


def test_variables_coverage_error_lists_the_missing_names():
    with pytest.raises(InputError) as info:
        parse_formula("G*m1*m2/r**2 + sin(theta)", variables=["G", "m1"])
    msg = str(info.value)
    for name in ("m2", "r", "theta"):
        assert name in msg
    assert "add them to variables" in msg
    assert "sin" not in msg.split("given")[0]       # function names are not variables
    # Any tuple or generator of names works, and listing them all is accepted.
    assert parse_formula("x*y", variables=("x", "y")) == x * y
    assert parse_formula("x*y", variables=(v for v in "xy")) == x * y


def test_bare_function_name_hint_mentions_variables_when_given():
    with pytest.raises(InputError, match="add it to variables"):
        parse_formula("cos*x", variables=["x"])


# ---------------------------------------------------------------- nothing runs
@pytest.mark.parametrize("template", [
    "__import__('os').system('touch {marker}')",
    "__import__('pathlib').Path('{marker}').touch()",
    "open('{marker}', 'w')",
    "exec(\"open('{marker}', 'w')\")",
    "eval(\"open('{marker}', 'w')\")",
    "(lambda: open('{marker}', 'w'))()",
    "[open('{marker}', 'w') for _ in 'a']",
    "().__class__.__base__.__subclasses__()",
    "x if open('{marker}', 'w') else y",
    "sin(open('{marker}', 'w'))",
    "getattr(x, 'real')",
    "breakpoint()",
])
def test_nothing_in_the_text_is_executed(template, tmp_path):
    marker = tmp_path / "marker"
    with pytest.raises(InputError):
        parse_formula(template.format(marker=marker))
    assert not marker.exists()


def test_parsing_never_calls_eval_exec_or_sympy_parsers(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("parse_formula must not evaluate text")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", forbidden)
    monkeypatch.setattr(sympy, "parse_expr", forbidden)
    expr = parse_formula("G*m1*m2/r^2 + ln(gamma) - 2/3*exp(-x**1.5) + pi")
    G, m1, m2, r, gamma = sympy.symbols("G m1 m2 r gamma")
    assert expr == (G * m1 * m2 / r ** 2 + sympy.log(gamma)
                    - sympy.Rational(2, 3) * sympy.exp(-x ** sympy.Float(1.5)) + sympy.pi)


# ---------------------------------------------------------------- user functions
@pytest.fixture
def sinc_k():
    """A user function registered for one test and always removed after."""
    def sympy_fn(u):
        return sympy.sin(u) / u

    library.register("sinc_k", lambda t: torch.sin(t) / t, sympy_fn, 3)
    try:
        yield sympy_fn
    finally:
        library.unregister("sinc_k")


def test_user_registered_function_parses(sinc_k):
    assert "sinc_k" in library.names()
    assert parse_formula("2*sinc_k(x)") == 2 * sympy.sin(x) / x
    assert parse_formula("sinc_k(x)", variables=["x"]) == sinc_k(x)
    with pytest.raises(InputError, match=r"call it as sinc_k\(\.\.\.\)"):
        parse_formula("sinc_k + 1")
    with pytest.raises(InputError, match="sinc_k"):          # listed among known ones
        parse_formula("nosuch(x)")


def test_unregistered_function_is_refused_again():
    library.register("sinc_k", lambda t: torch.sin(t) / t, lambda u: sympy.sin(u) / u, 3)
    try:
        assert parse_formula("sinc_k(y)") == sympy.sin(y) / y
    finally:
        library.unregister("sinc_k")
    with pytest.raises(InputError, match="'sinc_k' at column 1 is not a known function"):
        parse_formula("sinc_k(y)")
    assert parse_formula("sinc_k") == sympy.Symbol("sinc_k")


def test_non_identifier_library_names_are_not_callable():
    assert "x^2" in library.names() and "x" in library.names()
    with pytest.raises(InputError, match="not a known function"):
        parse_formula("x(y)")
    assert parse_formula("x") == x

"""Edge fits, auto-symbolic, graph and expression building."""

import numpy as np
import pytest
import sympy
import torch

import kandiscover as kd
from kandiscover.errors import InputError
from kandiscover.symbolic import library
from kandiscover.symbolic.edgefit import fit_edge, score
from kandiscover.symbolic.expression import simple_value, snap_constants

X_, Y_ = sympy.symbols("x y")


# ------------------------------------------------------------ library
def test_library_has_the_issue_functions_with_safe_forms():
    want = ["x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "sqrt", "1/sqrt", "exp", "log", "sin",
            "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "arctanh", "abs",
            "gaussian", "0"]
    assert set(want) <= set(library.names())
    t = torch.tensor([-2.0, -1.0, 0.0, 1e-9, 0.5, 1.0, 2.0], dtype=torch.float64)
    for name in want:
        entry = library.get(name)
        out = entry.train_fn(t)
        assert torch.isfinite(out).all(), name
        # on the function's domain the safe form is the exact one
        inside = torch.tensor([0.3, 0.45], dtype=torch.float64)
        assert torch.allclose(entry.train_fn(inside), entry.torch_fn(inside)), name
        s = entry.sympy_fn(sympy.Float(0.3))
        assert abs(float(s) - float(entry.torch_fn(torch.tensor(0.3, dtype=torch.float64)))) < 1e-12


def test_register_validates_and_resolve_names_unknown():
    with pytest.raises(ValueError, match="search"):
        library.register("bad_search", torch.sin, sympy.sin, 2, search="weird")
    with pytest.raises(InputError, match="unknown library function.*'nope'"):
        library.resolve(["sin", "nope"])
    assert "0" not in [e.name for e in library.resolve()]


# ------------------------------------------------------------ edge fits
@pytest.mark.parametrize("name,f,lo,hi,params", [
    ("sin", lambda x: 2 * np.sin(np.pi * x) + 1, -1, 1, (np.pi, 2.0, 1.0)),
    ("x^2", lambda x: 3 * (x - 0.5) ** 2, -1, 1, None),
    ("1/x", lambda x: 1 / (x + 0.5), 1, 3, None),
    ("exp", lambda x: np.exp(1.5 * x), -1, 1, (1.5, 1.0, 0.0)),
    ("gaussian", lambda x: np.exp(-x ** 2 / 2), -3, 3, None),
    ("arctanh", np.arctanh, -0.9, 0.9, None),
    ("sqrt", lambda x: np.sqrt(1 + x), 0, 5, None),
    ("log", np.log, 0.1, 4, None),
    ("x", lambda x: 3 * x - 2, -1, 1, None),
])
def test_fit_edge_finds_the_function(name, f, lo, hi, params):
    x = np.linspace(lo, hi, 300)
    fits = fit_edge(x, f(x))
    assert fits[0].name == name
    assert fits[0].r2 > 1 - 1e-9
    a, b, c, d = fits[0].params
    pred = c * library.get(name).torch_fn(torch.tensor(a * x + b)).numpy() + d
    assert np.max(np.abs(pred - f(x))) < 1e-4
    if params is not None:
        assert abs(abs(a) - params[0]) < 1e-4 and abs(abs(c) - params[1]) < 1e-4


def test_a_clean_sine_is_never_replaced_by_zero_or_worse():
    """pykan's defect: an imperfect but clear sine edge became '0'."""
    rng = np.random.default_rng(1)
    x = np.linspace(-2, 2, 300)
    y = np.sin(x) + 0.02 * rng.standard_normal(300)   # r^2 around 0.999
    fits = fit_edge(x, y)
    assert fits[0].name == "sin" and "0" not in [f.name for f in fits]
    # nothing ranked above a candidate is both worse and more complex
    for k, f in enumerate(fits):
        for g in fits[:k]:
            assert not (g.r2 < f.r2 and g.complexity > f.complexity)


def test_score_prefers_simple_only_when_nearly_as_good():
    assert score(1 - 1e-8, 2) < score(1 - 1e-3, 1)
    assert score(1 - 1e-8, 1) < score(1 - 1e-8, 3)
    assert score(0.9, 4) > score(0.95, 4)


def test_degenerate_taylor_fits_are_dropped():
    x = np.linspace(-1, 1, 200)
    fits = fit_edge(x, x ** 2)
    assert fits[0].name == "x^2"
    for f in fits:
        assert abs(f.params[3]) <= 30 * 2.0 + 1e-9


def test_fit_edge_constant_and_bad_input():
    x = np.linspace(0, 1, 50)
    (only,) = fit_edge(x, np.full(50, 2.5))
    assert only.params[2] == 0.0 and only.params[3] == 2.5
    with pytest.raises(InputError, match="NaN"):
        fit_edge(x, np.where(x > 0.5, np.nan, x))
    with pytest.raises(InputError, match="unknown"):
        fit_edge(x, x ** 2, lib=["x^2", "frobnicate"])


def test_suggest_lists_candidates_for_a_model_edge(law_data):
    X, y, _, _ = law_data
    m = kd.KAN([2, 1], grid=10, seed=0, dtype="float64")
    m.fit(X, np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2, steps=20, verbose=False)
    top = kd.suggest(m, 0, 0, 0, top=3)
    assert len(top) == 3 and top[0].name == "sin" and top[0].r2 > 0.999
    assert kd.suggest(m, 0, 1, 0, top=1)[0].name == "x^2"


# ------------------------------------------------------------ graph and expression
def _symbolic_model(width, mult_arity=2, dtype="float64"):
    return kd.KAN(width, grid=5, seed=0, mult_arity=mult_arity, dtype=dtype)


def test_to_graph_structure_and_attributes():
    m = _symbolic_model([2, (1, 1), 1])
    m.set_symbolic(0, 0, 0, "sin", (2.0, 0.0, 1.0, 0.0))
    g = kd.to_graph(m, variables=["theta", "omega"])
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert kinds[("node", 0, 0)] == "input" and g.nodes[("node", 0, 0)]["name"] == "theta"
    assert kinds[("node", 1, 0)] == "sum" and kinds[("node", 1, 1)] == "mult"
    assert [k for n, k in kinds.items() if k == "factor"] == ["factor", "factor"]
    e = g.edges[("node", 0, 0), ("node", 1, 0)]
    assert e["function"] == "sin" and e["params"] == (2.0, 0.0, 1.0, 0.0)
    assert g.edges[("node", 0, 1), ("node", 1, 0)]["function"] == "spline"
    assert g.graph["variables"] == ["theta", "omega"]
    # 2 inputs x 3 subnodes + 2 hidden nodes x 1 output = 8 KAN edges
    assert sum(1 for *_, d in g.edges(data=True) if d["kind"] == "edge") == 8
    with pytest.raises(InputError, match="3 names"):
        kd.to_graph(m, variables=["a", "b", "c"])


def _all_symbolic(m, rng):
    """Give every live edge a random library function with safe arguments."""
    names = ["sin", "x", "x^2", "exp", "tanh", "cos", "arctan", "x^3"]
    for l, layer in enumerate(m.layers):
        for i in range(layer.n_in):
            for j in range(layer.n_out):
                n = names[rng.integers(len(names))]
                a, b, c, d = rng.uniform(-1, 1, 4)
                m.set_symbolic(l, i, j, n, (0.5 * a, 0.3 * b, c, 0.2 * d))


@pytest.mark.parametrize("width,arity", [([2, 3, 1], 2), ([2, (1, 2), 1], [[], [3, 2], []]),
                                         ([3, (0, 1), 2], 4), ([1, (2, 1), (1, 1), 1], 3)])
def test_to_sympy_matches_forward_for_any_arity(width, arity):
    rng = np.random.default_rng(0)
    m = _symbolic_model(width, arity)
    _all_symbolic(m, rng)
    with torch.no_grad():
        for p in list(m.subnode_scale) + list(m.node_scale):
            p.copy_(torch.as_tensor(rng.uniform(0.5, 1.5, p.shape)))
        for p in list(m.subnode_bias) + list(m.node_bias):
            p.copy_(torch.as_tensor(rng.uniform(-0.3, 0.3, p.shape)))
    expr, check = kd.to_sympy(m, snap=False, digits=None, simplify=False, return_check=True)
    assert check.max_rel_diff < 1e-6 and check.raw_max_rel_diff < 1e-6
    names = [f"x{i}" for i in range(m.n_inputs)]
    Xc = rng.uniform(-1, 1, (50, m.n_inputs))
    outs = expr if isinstance(expr, list) else [expr]
    pred = m.predict(Xc)
    for k, e in enumerate(outs):
        got = kd.to_numpy(e, names)(Xc)
        assert np.max(np.abs(got - pred[:, k])) <= 1e-9 * (1 + np.abs(pred[:, k]).max())


def test_to_sympy_snaps_constants_and_simplifies():
    m = _symbolic_model([2, 1, 1])
    m.set_symbolic(0, 0, 0, "sin", (np.pi * (1 + 1e-9), 0.0, 1.0, 0.1))
    m.set_symbolic(0, 1, 0, "x^2", (1.0, 0.0, 1.0 + 2e-9, -0.1))
    m.set_symbolic(1, 0, 0, "exp", (1.0, 0.0, 2.0, 0.0))
    expr, check = kd.to_sympy(m, ["x", "y"], return_check=True)
    assert sympy.simplify(expr - 2 * sympy.exp(sympy.sin(sympy.pi * X_) + Y_ ** 2)) == 0
    assert check.max_rel_diff < 1e-6 and check.snapped
    # no snapping: the floats stay and the value is exact
    raw = kd.to_sympy(m, ["x", "y"], snap=False, digits=None)
    assert raw.atoms(sympy.Float)


def test_to_sympy_reads_hyperbolic_functions_of_logs_as_rational():
    # how the composed structure [2, 1, 1] writes 1/(1 + x y): a logistic of
    # log x + log y; the tanh -> exp rewrite in the simplification reads it back
    m = _symbolic_model([2, 1, 1])
    m.set_symbolic(0, 0, 0, "log", (1.0, 0.0, 0.5, 0.0))
    m.set_symbolic(0, 1, 0, "log", (1.0, 0.0, 0.5, 0.0))
    m.set_symbolic(1, 0, 0, "tanh", (1.0, 0.0, -0.5, 0.5))
    x, y = sympy.symbols("x y")
    expr = kd.to_sympy(m, ["x", "y"], X_check=np.random.default_rng(0).uniform(0.5, 2, (64, 2)))
    assert expr == 1 / (x * y + 1)


def test_to_sympy_refuses_spline_edges_and_reads_graphs():
    m = _symbolic_model([2, 1])
    m.set_symbolic(0, 0, 0, "sin")
    with pytest.raises(InputError, match="still a spline"):
        kd.to_sympy(m)
    m.set_symbolic(0, 1, 0, "x")
    g = kd.to_graph(m, variables=["a", "b"])
    e = kd.to_sympy(g)
    assert e.free_symbols == {sympy.Symbol("a"), sympy.Symbol("b")}


def test_simple_values_and_snapping_respect_the_data():
    assert simple_value(3.14159) == [sympy.pi] or simple_value(3.14159)[0] == sympy.pi
    assert sympy.sqrt(2) / 2 in simple_value(0.70711)
    assert simple_value(0.4137) == []
    X = np.linspace(-1, 1, 100)[:, None]
    e = sympy.Float(0.3333333) * sympy.Symbol("x0") + sympy.Float(2.7)
    ref = X[:, 0] / 3 + 2.7
    out, snapped = snap_constants(e, [sympy.Symbol("x0")], X, ref)
    assert out == sympy.Symbol("x0") / 3 + sympy.Float(2.7) or \
        sympy.simplify(out - (sympy.Symbol("x0") / 3 + sympy.Rational(27, 10))) == 0
    # a constant that matters is not snapped to a nearby simple value
    e2 = sympy.Float(0.4137) * sympy.Symbol("x0")
    out2, snapped2 = snap_constants(e2, [sympy.Symbol("x0")], X, 0.4137 * X[:, 0])
    assert out2 == e2 and snapped2 == []


# ------------------------------------------------------------ auto-symbolic
def test_auto_symbolic_recovers_edges_and_leaves_input_alone(law_data):
    X, _, _, _ = law_data
    y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    m = kd.KAN([2, 1], grid=10, seed=0, dtype="float64")
    m.fit(X, y, steps=20, verbose=False)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    sym, report = kd.auto_symbolic(m, X, y)
    assert [e.name for e in report.edges] == ["sin", "x^2"] and report.all_symbolic
    assert report.rmse_after < 1e-6 < report.rmse_before
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert not m.layers[0].symbolic
    expr = kd.to_sympy(sym, ["x", "y"])
    assert kd.symbolic_solution(expr, sympy.sin(sympy.pi * X_) + Y_ ** 2)
    assert "sin" in str(report) and "RMSE after fine-tuning" in str(report)


def test_auto_symbolic_fine_tuning_stops_at_the_deadline(law_data):
    import time
    X, _, _, _ = law_data
    y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    m = kd.KAN([2, 1], grid=10, seed=0, dtype="float64")
    m.fit(X, y, steps=20, verbose=False)
    _, free = kd.auto_symbolic(m, X, y)
    late, report = kd.auto_symbolic(m, X, y, deadline=time.perf_counter() - 1.0)
    # the deadline had passed: the edges are chosen but not fine-tuned
    assert report.all_symbolic and report.rmse_after == report.rmse_symbolic
    assert free.rmse_after < 1e-6 < report.rmse_after      # without one: exact
    assert np.sqrt(np.mean((late.predict(X)[:, 0] - y) ** 2)) == pytest.approx(
        report.rmse_after)


def test_auto_symbolic_refuses_targets_of_the_wrong_width(law_data):
    X, y = law_data[:2]
    m = kd.KAN([X.shape[1], 1], seed=0)
    with pytest.raises(InputError, match="y has 2 columns but the model has 1 output"):
        kd.auto_symbolic(m, X, np.c_[y, y])


def test_auto_symbolic_threshold_keeps_poor_fits_as_splines(law_data):
    X, _, _, _ = law_data
    y = np.sin(np.pi * X[:, 0]) + np.abs(X[:, 1] - 0.3) ** 1.5 * np.sign(X[:, 1] - 0.3)
    m = kd.KAN([2, 1], grid=10, seed=0, dtype="float64")
    m.fit(X, y, steps=20, verbose=False)
    sym, report = kd.auto_symbolic(m, X, y, r2_threshold=0.9999, lib=["sin", "x^2"])
    names = {(e.i, e.j): e.name for e in report.edges}
    assert names[(0, 0)] == "sin" and names[(1, 0)] == "spline"
    assert (1, 0) not in sym.layers[0].symbolic and not report.all_symbolic


def test_symbolic_models_survive_save_and_load(law_data, tmp_path):
    m = _symbolic_model([2, 1])
    m.set_symbolic(0, 0, 0, "1/x", (1.0, 2.0, 1.0, 0.0))
    m.set_symbolic(0, 1, 0, "sqrt", (1.0, 3.0, 1.0, 0.0))
    path = kd.save(m, tmp_path / "m.h5")
    back = kd.load(path)
    X = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    assert np.allclose(back.predict(X), m.predict(X))
    assert back.layers[0].symbolic[(0, 0)].fn is library.get("1/x").train_fn

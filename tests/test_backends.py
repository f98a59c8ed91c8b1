"""The symbolic-regression backends ``operon`` and ``kan`` under the contract of
``kandiscover.compare.backends.base``.

Each backend runs once per module on an easy law (y = 2 mass + speed^2, 200
rows) with a budget of 2 s; the tests then check the result from several
sides.  The module runs happen in a temporary folder that must stay empty,
like every test's cwd (see ``conftest._no_stray_files``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import sympy

from kandiscover.compare.backends.base import (Backend, ParetoEntry, SRResult, backend_names,
                                               get_backend)
from kandiscover.compare.metrics import complexity, symbolic_solution
from kandiscover.errors import InputError

NAMES = ["mass", "speed"]
BUDGET = 2.0
# Wall-time slack over the budget: Operon's noise estimate and the reading of
# its front; the KAN pipeline's budget is soft (a started structure runs to
# its end); and this machine may be busy.
SLACK = {"operon": 5.0, "kan": 10.0}


def _data(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, 2 * X[:, 0] + X[:, 1] ** 2


TRUTH = 2 * sympy.Symbol("mass") + sympy.Symbol("speed") ** 2


def _run_in_empty_folder(folder, fn):
    """Run ``fn()`` with ``folder`` (empty) as the cwd; fail if it writes there."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        out = fn()
    finally:
        os.chdir(old)
    assert list(folder.iterdir()) == [], "the backend wrote files into the cwd"
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One run of each backend on the easy law (seed 0, 2 s)."""
    X, y = _data()
    out = {}
    for name in ("operon", "kan"):
        folder = tmp_path_factory.mktemp(f"cwd_{name}")
        out[name] = _run_in_empty_folder(
            folder, lambda: get_backend(name).run(X, y, NAMES, BUDGET, 0))
    return out


# ------------------------------------------------------------------ the contract
@pytest.mark.parametrize("name", ["operon", "kan"])
def test_result_fits_the_easy_law(results, name):
    r = results[name]
    assert isinstance(r, SRResult)
    assert r.method == name
    assert isinstance(r.expression, sympy.Expr)
    assert r.train_r2 > 0.99
    assert r.complexity == complexity(r.expression)
    # variables are plain Symbols named as the columns
    assert r.expression.free_symbols <= {sympy.Symbol(n) for n in NAMES}
    assert {s.name for s in r.expression.free_symbols} == set(NAMES)


@pytest.mark.parametrize("name", ["operon", "kan"])
def test_pareto_front_is_sorted_and_consistent(results, name):
    X, y = _data()
    front = results[name].pareto
    assert front and all(isinstance(e, ParetoEntry) for e in front)
    comps = [e.complexity for e in front]
    assert comps == sorted(comps)
    for e in front:
        assert isinstance(e.expression, sympy.Expr)
        assert e.complexity == complexity(e.expression)
        assert e.expression.free_symbols <= {sympy.Symbol(n) for n in NAMES}
        assert e.loss >= 0
    # the most accurate formula of the front explains the data
    assert min(e.loss for e in front) < 0.01 * np.var(y)


def test_operon_front_is_non_dominated(results):
    losses = [e.loss for e in results["operon"].pareto]
    assert all(a > b for a, b in zip(losses, losses[1:]))
    comps = [e.complexity for e in results["operon"].pareto]
    assert len(set(comps)) == len(comps)


@pytest.mark.parametrize("name", ["operon", "kan"])
def test_seconds_within_budget_and_raw_is_json(results, name):
    r = results[name]
    assert 0 < r.seconds <= BUDGET + SLACK[name]
    json.dumps(r.raw)


def test_operon_raw_output(results):
    raw = results["operon"].raw
    assert isinstance(raw["model_string"], str) and "speed" in raw["model_string"]
    assert raw["generations"] >= 1
    assert raw["residual_evaluations"] > 0
    assert raw["max_time"] == 2
    assert raw["sigma"] > 0
    assert raw["dropped"] == []
    assert 0 <= raw["check_rel_diff"] < 1e-4   # the formula reproduces Operon's predict


def test_kan_raw_output_and_exact_law(results):
    r = results["kan"]
    assert r.raw["structure"].startswith("[2")
    assert r.raw["equations"] == [str(e.expression) for e in r.pareto]
    assert len(r.raw["validation_mse"]) == len(r.pareto)
    # the pipeline reads this law off exactly (SRBench's symbolic solution)
    assert symbolic_solution(r.expression, TRUTH)


# ------------------------------------------------------------------ determinism
def test_kan_same_seed_same_formula_and_torch_threads_restored(results):
    import torch

    X, y = _data()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = get_backend("kan").run(X, y, NAMES, BUDGET, 0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    first = results["kan"]
    assert again.expression == first.expression
    assert [(e.complexity, e.expression) for e in again.pareto] == \
        [(e.complexity, e.expression) for e in first.pareto]


def test_operon_repeats_when_stopped_by_generations():
    # A run stopped by the clock depends on the machine's load; one stopped
    # by its generation limit repeats exactly with the same seed.
    X, y = _data()
    runs = [get_backend("operon").run(X, y, NAMES, 30, 5, generations=5, population_size=200)
            for _ in range(2)]
    assert runs[0].raw["generations"] == runs[1].raw["generations"] == 5
    assert runs[0].raw["model_string"] == runs[1].raw["model_string"]
    assert runs[0].expression == runs[1].expression
    assert [e.expression for e in runs[0].pareto] == [e.expression for e in runs[1].pareto]
    assert runs[0].seconds < 30


@pytest.mark.parametrize("budget, max_time", [(0.4, 1), (1.9, 1), (3, 3)])
def test_operon_max_time_is_the_floored_budget(budget, max_time):
    X, y = _data()
    r = get_backend("operon").run(X, y, NAMES, budget, 0, generations=1, population_size=50)
    assert r.raw["max_time"] == max_time


def test_operon_reads_names_sympy_would_misread():
    X, y = _data()
    r = get_backend("operon").run(X, y, ["E", "gamma"], 5, 1, generations=5,
                                  population_size=200)
    assert {s.name for s in r.expression.free_symbols} <= {"E", "gamma"}
    assert all(type(s) is sympy.Symbol for s in r.expression.free_symbols)
    assert r.train_r2 > 0.9


# ------------------------------------------------------------------ bad input
def _bad_inputs():
    X, y = _data(50)
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    ynan = y.copy()
    ynan[7] = np.nan
    return {
        "zero budget": (X, y, NAMES, 0, 0),
        "negative budget": (X, y, NAMES, -1.0, 0),
        "too few names": (X, y, ["mass"], 1, 0),
        "too many names": (X, y, ["mass", "speed", "g"], 1, 0),
        "name not an identifier": (X, y, ["mass", "2 speed"], 1, 0),
        "NaN in X": (Xnan, y, NAMES, 1, 0),
        "NaN in y": (X, ynan, NAMES, 1, 0),
        "rows differ": (X, y[:-1], NAMES, 1, 0),
        "negative seed": (X, y, NAMES, 1, -1),
    }


@pytest.mark.parametrize("name", ["operon", "kan"])
@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_is_refused(name, case):
    with pytest.raises(InputError):
        get_backend(name).run(*_bad_inputs()[case])


@pytest.mark.parametrize("name, settings, words", [
    ("operon", {"max_time": 5}, "max_time"),
    ("operon", {"n_threads": 2}, "n_threads"),
    ("operon", {"populaton_size": 10}, "populaton_size"),
    ("operon", {"allowed_symbols": "add,mul,fmin,constant,variable"}, "fmin"),
    ("operon", {"allowed_symbols": "add,mul,constant"}, "variable"),
    ("kan", {"verbose": True}, "verbose"),
    ("kan", {"stepz": 3}, "stepz"),
])
def test_bad_settings_are_refused(name, settings, words):
    X, y = _data(50)
    with pytest.raises(InputError, match=words):
        get_backend(name).run(X, y, NAMES, 1, 0, **settings)


def test_unknown_method_names_the_known_ones():
    with pytest.raises(InputError) as info:
        get_backend("nope")
    message = str(info.value)
    assert "nope" in message
    for known in ("kan", "operon", "pysr"):
        assert known in message


@pytest.mark.parametrize("name", ["operon", "kan"])
def test_backends_are_registered(name):
    backend = get_backend(name)
    assert isinstance(backend, Backend) and backend.name == name
    assert name in backend_names()
    assert backend.available() == (True, "")

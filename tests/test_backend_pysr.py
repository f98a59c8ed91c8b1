"""The PySR backend: reading PySR's hall of fame, the availability probe, run."""

import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy

from kandiscover.compare.backends import pysr as pysr_backend
from kandiscover.compare.backends.base import BackendUnavailable, get_backend
from kandiscover.compare.backends.pysr import _choose_best, available, load_pysr_run, run
from kandiscover.compare.metrics import complexity, symbolic_solution
from kandiscover.errors import InputError
from kandiscover.symbolic.parse import parse_formula

FIXTURES = Path(__file__).parent / "fixtures" / "pysr"
FLAT = FIXTURES / "hall_of_fame.csv"                       # y = 3.1 x0 x1 + sin(x2)
RUN_DIR = FIXTURES / "outputs" / "20240611_153012_k3Xq9z"   # y = 1.5 m v^2 + cos(theta)


def write(folder, text, name="hall_of_fame.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def hof(*rows):
    """A hall of fame in PySR's format from (complexity, loss, equation) rows."""
    return "Complexity,Loss,Equation\n" + "".join(f'{c},{l},"{e}"\n' for c, l, e in rows)


# ---------------------------------------------------------------- the fixtures
def test_flat_hall_of_fame_gives_the_law_and_the_front():
    r = load_pysr_run(FLAT)
    truth = parse_formula("3.1*x0*x1 + sin(x2)")
    assert r.method == "pysr"
    assert symbolic_solution(r.expression, truth)
    assert r.expression.free_symbols == {sympy.Symbol(n) for n in ("x0", "x1", "x2")}
    # PySR's own complexities, simplest first; sympy's count for the chosen one
    assert [e.complexity for e in r.pareto] == [1, 3, 4, 5, 6, 7, 8, 10, 13]
    losses = [e.loss for e in r.pareto]
    assert losses == sorted(losses, reverse=True)
    assert losses[6] == pytest.approx(1.9273685e-14)      # Julia's float32 "f-14"
    assert r.pareto[0].expression == sympy.Float(0.9581152)
    assert r.pareto[2].expression == (sympy.Symbol("x0") + sympy.Symbol("x1")) ** 2
    assert r.expression == r.pareto[6].expression          # "best": complexity 8
    assert r.complexity == complexity(r.expression) == 7
    assert not symbolic_solution(r.pareto[5].expression, truth)
    assert math.isnan(r.train_r2) and math.isnan(r.seconds)
    assert r.raw["source"] == str(FLAT) and r.raw["rows"] == 9
    assert r.raw["chosen_line"] == 8 and r.raw["pysr_complexity"] == 8


@pytest.mark.parametrize("where", [RUN_DIR, RUN_DIR.parent], ids=["run-folder", "outputs"])
def test_run_folder_gives_the_law_and_the_front(where):
    r = load_pysr_run(where, variables=["m", "v", "theta"])
    assert symbolic_solution(r.expression, parse_formula("1.5*m*v^2 + cos(theta)"))
    assert [e.complexity for e in r.pareto] == [1, 3, 4, 6, 8, 9, 11, 12]
    assert r.raw["pysr_complexity"] == 9
    assert r.raw["file"].endswith("hall_of_fame.csv.bak")   # as PySR reads it
    assert r.raw["rows"] == 8
    m, v = sympy.symbols("m v")
    assert r.pareto[2].expression == m * v ** 2              # "(m * square(v))"


def test_the_backup_is_read_first_and_the_csv_without_it(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(RUN_DIR, run_dir)
    write(run_dir, hof((1, 2.0, "m"), (3, 0.5, "(m * 2.0)")))  # hall_of_fame.csv differs
    assert load_pysr_run(run_dir).raw["rows"] == 8
    (run_dir / "hall_of_fame.csv.bak").unlink()
    r = load_pysr_run(run_dir)
    assert r.raw["rows"] == 2 and r.expression == 2.0 * sympy.Symbol("m")


def test_the_checkpoint_pickle_is_never_opened(tmp_path, monkeypatch):
    import pickle

    run_dir = tmp_path / "run"
    shutil.copytree(RUN_DIR, run_dir)
    (run_dir / "checkpoint.pkl").write_bytes(pickle.dumps({"not": "to be read"}))

    def refuse(*args, **kwargs):
        raise AssertionError("load_pysr_run unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert load_pysr_run(run_dir).raw["rows"] == 8
    with pytest.raises(InputError, match="pickle.*never opens"):
        load_pysr_run(run_dir / "checkpoint.pkl")


def test_default_names_stand_for_the_variables_in_order_and_r2_with_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 3))
    y = 3.1 * X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    r = load_pysr_run(FLAT, variables=["q", "E", "gamma"], X=X, y=y)
    q, E, gamma = sympy.symbols("q E gamma")
    assert r.expression.free_symbols == {q, E, gamma}       # E and gamma stay variables
    assert symbolic_solution(r.expression, 3.1 * q * E + sympy.sin(gamma))
    assert r.train_r2 > 0.999999
    assert math.isnan(r.seconds)
    # without variables, X's columns are x0, x1, x2
    assert load_pysr_run(FLAT, X=X, y=y).train_r2 > 0.999999


def test_names_outside_the_variables_are_refused():
    with pytest.raises(InputError, match="m, theta, v.*not among the variables"):
        load_pysr_run(RUN_DIR, variables=["a", "b", "c"])
    with pytest.raises(InputError, match="both X and y"):
        load_pysr_run(FLAT, X=np.ones((3, 3)))
    with pytest.raises(InputError, match="2 variable names for 3 columns"):
        load_pysr_run(FLAT, variables=["a", "b"], X=np.ones((3, 3)), y=np.ones(3))


# ---------------------------------------------------------------- PySR's operators
@pytest.mark.parametrize("equation, expected", [
    ("square(x0 + 1.0)", "(x0 + 1.0)**2"),
    ("(cube(x0) ^ 2.0)", "(x0^3)^2.0"),                # cube(x0)^2, not x0^(3^2)
    ("neg(x0 * x1)", "-x0*x1"),
    ("inv(x0 - 1.0)", "1/(x0 - 1.0)"),
    ("safe_log(x0) + safe_sqrt(x1)", "log(x0) + sqrt(x1)"),
    ("(x0 ^ -2.0)", "x0**(-2.0)"),
    ("(-0.5 ^ x0)", "(-0.5)**x0"),                      # a negative constant leaf
    ("((x0 * -0.5) - -1.5f-3)", "-0.5*x0 + 0.0015"),    # float32 print form
    ("pow(x0, x1)", "x0**x1"),
    ("pow_abs(x0, 2.5)", "Abs(x0)**2.5"),
    ("sqrt_abs(x0) * log_abs(x1)", "sqrt(Abs(x0))*log(Abs(x1))"),
    ("log1p(x0) + log10(x1)", "log(x0 + 1) + log(x1)/log(10)"),
    ("(exp(x0) / cos(tanh(x1)))", "exp(x0)/cos(tanh(x1))"),
], ids=["square", "cube-then-power", "neg", "inv", "safe-log-sqrt", "negative-exponent",
        "negative-base", "float32-constant", "pow", "pow-abs", "abs-variants", "log1p-log10",
        "plain-functions"])
def test_pysr_operator_names_become_sympy(tmp_path, equation, expected):
    path = write(tmp_path, hof((7, 0.1, equation)))
    got = load_pysr_run(path).expression
    want = parse_formula(expected)
    assert sympy.simplify(got - want) == 0, (got, want)


@pytest.mark.parametrize("text, message", [
    (hof((1, 0.5, "x0"), (3, 0.1, "erf(x0 * 2.0)")), r"line 3: the operator erf\(\)"),
    (hof((3, 0.1, "max(x0, x1)")), r"line 2: the operator max\(\) with 2"),
    (hof((3, 0.1, "sin(x0, x1)")), r"sin\(\) with 2 argument.*takes 1"),
    (hof((3, 0.1, "(x0 * Inf)")), "line 2: .*non-finite constant Inf"),
    (hof((3, 0.1, "(x0 * x1")), "line 2: could not parse"),
    ("Complexity,Equation\n1,\"x0\"\n", "no Loss column"),
    ("complexity;loss;equation\n1;0.1;x0\n", "no Complexity column"),
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("Complexity,Loss,Equation\n", "no equations"),
    (hof(("abc", 0.1, "x0")), r"line 2: Complexity 'abc' is not a whole number"),
    (hof((1, "low", "x0")), "line 2: Loss 'low' is not a number"),
    ("Complexity,Loss,Equation\n1,0.1\n", "line 2: 2 fields for the 3 columns"),
    (hof((3, 0.1, "sin(" * 60 + "x0" + ")" * 60)), "line 2: .*deeper than 50 levels"),
    (hof((3, 0.1, " + ".join(["x0"] * 300))), "line 2: .*characters long; the limit is 1000"),
], ids=["unknown-operator", "two-argument-operator", "wrong-arity", "infinite-constant",
        "unbalanced", "missing-column", "not-comma-separated", "empty", "blank",
        "header-only", "bad-complexity", "bad-loss", "short-row", "deep", "long"])
def test_bad_files_say_what_is_wrong(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message):
        load_pysr_run(path)


def test_bad_paths_say_what_is_wrong(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_pysr_run(tmp_path / "nowhere")
    with pytest.raises(InputError, match="has no hall_of_fame.csv"):
        load_pysr_run(tmp_path)
    write(tmp_path / "multi", hof((1, 0.1, "x0")), "hall_of_fame_output1.csv")
    write(tmp_path / "multi", hof((1, 0.1, "x1")), "hall_of_fame_output2.csv")
    with pytest.raises(InputError, match="2 outputs"):
        load_pysr_run(tmp_path / "multi")
    write(tmp_path / "outputs" / "run_a", hof((1, 0.1, "x0")))
    write(tmp_path / "outputs" / "run_b", hof((1, 0.1, "x0")))
    with pytest.raises(InputError, match="2 PySR runs.*run_a, run_b"):
        load_pysr_run(tmp_path / "outputs")


def test_older_layouts_and_exported_equations_table(tmp_path):
    old = write(tmp_path / "old", hof((1, 1.0, "x0"), (3, 0.01, "(x0 * x1)")),
                "hall_of_fame_2023-05-02_101112.345.csv")
    assert load_pysr_run(old.parent).expression == sympy.Symbol("x0") * sympy.Symbol("x1")
    # model.equations_.to_csv(): an index column, lower-case names, extra columns
    table = (",complexity,loss,equation,score,sympy_format,lambda_format\n"
             '0,1,1.0,x0,0.0,x0,"PySRFunction(X=>x0)"\n'
             '1,3,0.01,(x0 * x1),2.3,x0*x1,"PySRFunction(X=>x0*x1)"\n')
    path = write(tmp_path / "exported", table, "equations.csv")
    r = load_pysr_run(path)
    assert r.expression == sympy.Symbol("x0") * sympy.Symbol("x1")
    assert [e.complexity for e in r.pareto] == [1, 3]


def test_best_is_pysrs_rule():
    from kandiscover.compare.backends.base import ParetoEntry

    def front(*pairs):
        return [ParetoEntry(c, loss, sympy.Integer(i)) for i, (c, loss) in enumerate(pairs)]

    # the big drop wins although a more complex formula has a lower loss
    assert _choose_best(front((1, 10.0), (3, 1.0), (5, 0.9), (7, 0.85))) == 1
    # ... but only among losses <= 1.5 x the minimum
    assert _choose_best(front((1, 10.0), (3, 1.0), (5, 0.5))) == 2
    # a zero loss has an infinite score
    assert _choose_best(front((1, 1.0), (2, 0.0), (3, 0.0))) == 1
    # one formula
    assert _choose_best(front((5, 2.0))) == 0


# ---------------------------------------------------------------- availability
@pytest.fixture
def fresh_probe(monkeypatch, tmp_path):
    """An empty probe cache, and juliapkg's project in tmp_path (not the venv)."""
    monkeypatch.setattr(pysr_backend, "_CACHE", {})
    monkeypatch.setenv("PYTHON_JULIAPKG_PROJECT", str(tmp_path / "julia_env"))
    monkeypatch.delenv("PYTHON_JULIAPKG_OFFLINE", raising=False)
    monkeypatch.delenv("PYTHON_JULIAPKG_EXE", raising=False)
    monkeypatch.delenv(pysr_backend.PROBE_TIMEOUT_ENV, raising=False)


def test_available_gives_one_line_reason(fresh_probe):
    ok, reason = available(timeout=15)
    assert isinstance(ok, bool) and reason and "\n" not in reason
    if ok:  # a machine with PySR and its Julia installed
        pytest.skip(f"PySR runs here: {reason}")
    assert reason.startswith("PySR")
    assert ("Julia" in reason) or ("not installed" in reason)
    if "not installed" not in reason:
        assert "probed offline" in reason      # the probe never downloads
    assert available(timeout=15) == (ok, reason)


def test_probe_passes_the_julia_settings_through(fresh_probe, monkeypatch, tmp_path):
    import importlib.util

    if importlib.util.find_spec("pysr") is None:  # (importing it would start Julia)
        pytest.skip("pysr is not installed")
    fake = tmp_path / "no-julia-here"
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", str(fake))
    ok, reason = available(timeout=15)
    assert not ok
    assert str(fake) in reason and "is not a Julia executable" in reason


def test_probe_timeout_kills_the_probe_and_what_it_started(fresh_probe, monkeypatch,
                                                           tmp_path):
    pidfile = tmp_path / "child.pid"
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)\n")
    monkeypatch.setattr(pysr_backend, "_probe_command", lambda: [sys.executable, "-c", code])
    monkeypatch.setenv(pysr_backend.PROBE_TIMEOUT_ENV, "1.5")
    started = time.monotonic()
    ok, reason = available()
    assert time.monotonic() - started < 30
    assert not ok
    assert reason == ("PySR: its Julia runtime did not start within 1.5 s (timed out; "
                      f"set {pysr_backend.PROBE_TIMEOUT_ENV} to wait longer)")
    child = int(pidfile.read_text())
    for _ in range(100):  # the orphan is reaped by init shortly after the kill
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the probe's child {child} survived the timeout")


def test_probe_is_cached_per_configuration(fresh_probe, monkeypatch):
    calls = []

    def probe(env, timeout, forced_offline):
        calls.append((env.get("PYTHON_JULIAPKG_EXE"), env["PYTHON_JULIAPKG_OFFLINE"],
                      forced_offline))
        return False, "PySR: test"

    monkeypatch.setattr(pysr_backend, "_probe", probe)
    assert available() == (False, "PySR: test")
    assert available() == (False, "PySR: test")
    assert calls == [(None, "yes", True)]
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", "/opt/julia/bin/julia")
    monkeypatch.setenv("PYTHON_JULIAPKG_OFFLINE", "no")
    available()
    assert calls[1] == ("/opt/julia/bin/julia", "no", False)


def test_bad_probe_timeout_setting(fresh_probe, monkeypatch):
    monkeypatch.setenv(pysr_backend.PROBE_TIMEOUT_ENV, "soon")
    with pytest.raises(InputError, match="KANDISCOVER_PYSR_PROBE_TIMEOUT='soon'"):
        available()


# ---------------------------------------------------------------- run
def test_run_raises_unavailable_with_the_reason(monkeypatch):
    reason = "PySR cannot start its Julia runtime: Exception: could not find Julia"
    monkeypatch.setattr(pysr_backend, "available", lambda timeout=None: (False, reason))
    X, y = np.ones((10, 2)), np.ones(10)
    with pytest.raises(BackendUnavailable) as info:
        run(X, y, ["a", "b"], 5, 0)
    assert str(info.value) == reason
    backend = get_backend("pysr")
    assert backend.name == "pysr" and backend.run is run
    with pytest.raises(InputError, match="time budget"):
        run(X, y, ["a", "b"], 0, 0)
    with pytest.raises(InputError, match="2 variable names for 3 columns"):
        run(np.ones((10, 3)), y, ["a", "b"], 5, 0)
    with pytest.raises(InputError, match="random_state.*set by the method"):
        run(X, y, ["a", "b"], 5, 0, random_state=3)


def test_run_with_a_stand_in_for_pysr(monkeypatch):
    """``run``'s side of PySR's API, with a stand-in module (no Julia here)."""
    import types

    import pandas as pd

    seen = {}

    class FakeRegressor:
        def __init__(self, **kwargs):
            seen["kwargs"] = kwargs

        def fit(self, X, y):
            out = seen["dir"] = seen["kwargs"]["output_directory"]
            seen["fit"] = (X.shape, os.path.isdir(out))
            self.equations_ = pd.DataFrame({
                "complexity": [1, 3, 5],
                "loss": [4.0, 1.5, 1e-12],
                "equation": ["0.7", "(x0 * 2.1)", "((x0 * 2.0000002) + square(x1))"],
                "score": [0.0, 0.49, 13.5],
            })
            return self

    monkeypatch.setitem(sys.modules, "pysr", types.SimpleNamespace(PySRRegressor=FakeRegressor))
    monkeypatch.setattr(pysr_backend, "available", lambda timeout=None: (True, "pysr fake"))
    monkeypatch.setenv("PYTHON_JULIAPKG_OFFLINE", "unset below; restored after the test")
    monkeypatch.delenv("PYTHON_JULIAPKG_OFFLINE")
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (50, 2))
    y = 2 * X[:, 0] + X[:, 1] ** 2
    r = run(X, y, ["E", "gamma"], 3, 7, maxsize=20)
    kw = seen["kwargs"]
    assert kw["timeout_in_seconds"] == 3.0 and kw["random_state"] == 7
    assert kw["deterministic"] is True and kw["parallelism"] == "serial"
    assert kw["maxsize"] == 20 and kw["model_selection"] == "best" and "procs" not in kw
    assert seen["fit"] == ((50, 2), True)
    assert not os.path.exists(seen["dir"])          # the temporary output is gone
    assert os.environ["PYTHON_JULIAPKG_OFFLINE"] == "yes"
    E, gamma = sympy.symbols("E gamma")
    assert symbolic_solution(r.expression, 2 * E + gamma ** 2)
    assert r.expression.free_symbols == {E, gamma}
    assert [e.complexity for e in r.pareto] == [1, 3, 5]
    assert r.train_r2 > 0.999999 and r.seconds >= 0
    assert r.raw["chosen"] == 2 and r.raw["equations"][1] == [3, 1.5, "(x0 * 2.1)"]

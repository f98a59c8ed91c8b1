"""The table reader and the ``kandiscover discover`` command."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import sympy

from kandiscover.cli import main
from kandiscover.compare import symbolic_solution
from kandiscover.data.table import read_table
from kandiscover.errors import InputError
from kandiscover.symbolic.export import render_check


def _frame(n=200, seed=3):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    return pd.DataFrame({"a": a, "target": np.sin(a) + 0.5 * b ** 2, "b": b})


# ------------------------------------------------------------------ tables
def test_csv_table_splits_target_from_inputs_in_file_order(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "t.csv", index=False)
    X, y, names = read_table(tmp_path / "t.csv", "target")
    assert names == ["a", "b"] and X.shape == (200, 2) and X.dtype == np.float64
    np.testing.assert_array_equal(y, df["target"].to_numpy())
    np.testing.assert_array_equal(X[:, 1], df["b"].to_numpy())


@pytest.mark.parametrize("text, target, match", [
    ("a,b\n1,2\n3,4\n", "c", r"no column 'c'; its columns are 'a', 'b'"),
    ("a,b\n1,2\n3,\n", "b", r"column 'b' has 1 empty or NaN cell \(row 2\)"),
    ("a,b\n1,inf\n3,4\n", "b", r"column 'b' has 1 infinite value \(row 1\)"),
    ("a,b\n1,x\n3,4\n", "b", r"column 'b' has non-numeric cells in row 1 \(e.g. 'x'\)"),
    ("a\n1\n2\n", "a", r"has 1 column \('a'\)"),
    ("", "a", r"is empty"),
    ("a,b\n", "a", r"no data rows"),
])
def test_csv_problems_are_named(tmp_path, text, target, match):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        read_table(tmp_path / "t.csv", target)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "none.csv", "y")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown data file type '.xlsx'"):
        read_table(tmp_path / "t.xlsx", "y")
    (tmp_path / "fake.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        read_table(tmp_path / "fake.h5", "y")


def test_hdf5_column_and_xy_layouts(tmp_path):
    df = _frame(50)
    with h5py.File(tmp_path / "cols.h5", "w") as f:
        for c in df.columns:
            f[c] = df[c].to_numpy()
    X, y, names = read_table(tmp_path / "cols.h5", "target")
    assert sorted(names) == ["a", "b"] and X.shape == (50, 2)
    np.testing.assert_array_equal(y, df["target"].to_numpy())

    with h5py.File(tmp_path / "xy.h5", "w") as f:
        f["X"] = df[["a", "b"]].to_numpy()
        f["y"] = np.column_stack([df["target"], -df["target"]])
        f.attrs["feature_names"] = ["a", "b"]
        f.attrs["target_names"] = ["f", "g"]
    X, y, names = read_table(tmp_path / "xy.h5", "g")
    assert names == ["a", "b"]
    np.testing.assert_array_equal(y, -df["target"].to_numpy())
    with pytest.raises(InputError, match=r"no target 'a'; its targets are 'f', 'g' "
                                         r"\(the input columns"):
        read_table(tmp_path / "xy.h5", "a")


# --------------------------------------------------------------------- CLI
def test_discover_prints_and_writes_the_result(tmp_path, capsys):
    df = _frame()
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "res" / "r.json"
    out.parent.mkdir()
    # one candidate structure only (the additive one): the budget is spent at once
    rc = main(["discover", str(tmp_path / "t.csv"), "--target", "target",
               "--time-budget", "0.001", "--json", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    for word in ("target = ", "LaTeX:", "test R^2:", "complexity:"):
        assert word in text
    res = json.loads(out.read_text())
    assert set(res) >= {"expression", "latex", "r2_test", "complexity", "seconds", "pareto"}
    a, b = sympy.symbols("a b")
    assert symbolic_solution(sympy.sympify(res["expression"], locals={"a": a, "b": b}),
                             sympy.sin(a) + b ** 2 / 2)
    assert res["r2_test"] > 0.999999 and res["complexity"] > 0
    assert sum(p["chosen"] for p in res["pareto"]) == 1
    for latex in [res["latex"]] + [p["latex"] for p in res["pareto"]]:
        render_check(latex)
    for png in ("r.png", "r_network.png"):
        assert (out.parent / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json", "r.png",
                                                            "r_network.png"]


@pytest.mark.parametrize("setup, args, match", [
    (lambda p: _frame().to_csv(p / "t.csv", index=False), ["--target", "zz"],
     "no column 'zz'"),
    (lambda p: _frame().assign(target=np.nan).to_csv(p / "t.csv", index=False),
     ["--target", "target"], "column 'target' has 200 empty or NaN cells"),
    (lambda p: _frame().assign(target=1.0).to_csv(p / "t.csv", index=False),
     ["--target", "target"], "y is constant"),
    (lambda p: _frame(2).to_csv(p / "t.csv", index=False), ["--target", "target"],
     "fewer samples than variables: 2 rows for 2 variables"),
    (lambda p: _frame().to_csv(p / "t.csv", index=False),
     ["--target", "target", "--json", "nowhere/r.json"], "nowhere does not exist"),
    (lambda p: _frame().to_csv(p / "t.csv", index=False),
     ["--target", "target", "--time-budget", "-1"], "--time-budget must be a finite number > 0"),
    (lambda p: None, ["--target", "target"], "does not exist"),
    (lambda p: _frame().to_csv(p / "t.csv", index=False),
     ["--target", "target", "--json", "nowhere.png"], "must end in .json"),
])
def test_discover_bad_input_is_one_line_exit_2(tmp_path, capsys, setup, args, match):
    setup(tmp_path)
    args = [a if not a.startswith("nowhere") else str(tmp_path / a) for a in args]
    if "nowhere.png" in " ".join(args):
        args = [a.replace(str(tmp_path / "nowhere.png"), str(tmp_path / "r.png")) for a in args]
    rc = main(["discover", str(tmp_path / "t.csv"), "--quiet"] + args)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("kandiscover: error:") and err.count("\n") == 1
    assert match in err
    assert list(tmp_path.glob("*.json")) == []

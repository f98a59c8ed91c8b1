"""Dataset files, the Feynman sampler and the `dataset` commands."""

import h5py
import numpy as np
import pytest

import kandiscover as kd
from kandiscover.cli import main
from kandiscover.data.dataset import describe_dataset
from kandiscover.errors import InputError


# ------------------------------------------------------------------ Feynman
def test_all_feynman_equations_parse_and_sample_exactly():
    eqs = kd.feynman.equations()
    assert len(eqs) == 100 and len({e.name for e in eqs}) == 100
    for eq in eqs:
        ds = kd.feynman.sample(eq.name, n=200, seed=3)
        assert ds.X.shape == (200, len(eq.variables)) and ds.feature_names == list(eq.variables)
        lo, hi = np.array(eq.ranges).T
        assert (ds.X >= lo).all() and (ds.X <= hi).all()
        ref = eq.evaluate(ds.X)
        assert np.all(np.abs(ds.y - ref) <= 1e-12 * np.abs(ref)), eq.name
        assert ds.formula == eq.formula and ds.target_names == [eq.output]


def test_feynman_noise_level_and_determinism():
    clean = kd.feynman.sample("I.12.1", n=20000, seed=7)
    noisy = kd.feynman.sample("I.12.1", n=20000, noise=0.01, seed=7)
    np.testing.assert_array_equal(clean.X, noisy.X)
    level = np.std(noisy.y - clean.y) / np.sqrt(np.mean(clean.y ** 2))
    assert abs(level - 0.01) < 0.001                    # within 10 % of the request
    again = kd.feynman.sample("I.12.1", n=20000, noise=0.01, seed=7)
    np.testing.assert_array_equal(again.y, noisy.y)
    other = kd.feynman.sample("I.12.1", n=20000, noise=0.01, seed=8)
    assert not np.array_equal(other.X, noisy.X)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="I.6.2x"), r"did you mean I\.6\.2"),
    (dict(name="I.6.2", noise=-0.1), "noise must be a number >= 0"),
    (dict(name="I.6.2", n=0), "n must be an integer >= 1"),
    (dict(name="I.6.2", seed=-1), "seed must be an integer >= 0"),
])
def test_feynman_bad_requests(kwargs, match):
    with pytest.raises(InputError, match=match):
        kd.feynman.sample(**kwargs)


# ------------------------------------------------------------- dataset files
def test_table_round_trip_is_exact(tmp_path):
    ds = kd.feynman.sample("II.6.15a", n=50, noise=0.01, seed=2)
    ds.units = {"r": "m"}
    ds.attrs["note"] = "hello"
    ds.attrs["weights"] = [1.5, 2.5]
    back = kd.load_dataset(kd.save_dataset(ds, tmp_path / "t.h5"))
    assert isinstance(back, kd.TabularDataset)
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.y, ds.y)
    for name in ("feature_names", "target_names", "formula", "units", "source", "seed",
                 "noise", "attrs"):
        assert getattr(back, name) == getattr(ds, name), name


def test_hand_written_table_with_one_name_as_a_string(tmp_path):
    import h5py
    with h5py.File(tmp_path / "hand.h5", "w") as f:
        f["X"], f["y"] = np.arange(5.0)[:, None], np.arange(5.0) ** 2
        f.attrs["feature_names"], f.attrs["target_names"] = "temperature", "energy"
    ds = kd.load_dataset(tmp_path / "hand.h5")
    assert ds.feature_names == ["temperature"] and ds.target_names == ["energy"]


def test_numeric_array_attributes_load(tmp_path):
    ds = kd.TabularDataset(np.zeros((3, 1)), np.arange(3.0), ["a"], ["y"],
                           attrs={"w": np.array([1.0, 2.0])})
    back = kd.load_dataset(kd.save_dataset(ds, tmp_path / "w.h5"))
    np.testing.assert_array_equal(back.attrs["w"], [1.0, 2.0])


def test_sequence_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    ds = kd.SequenceDataset(
        {"sequences": {"theta": rng.normal(size=(4, 9)), "omega": rng.normal(size=(4, 9))},
         "hidden": {"L": rng.random((4, 9))},
         "labels": {"up": rng.random((4, 9)) > 0.5},
         "params": {"L0": rng.random(4)},
         "splits": {"train": np.array([0, 1, 2]), "test": np.array([3])}},
        {"g": 9.81, "seed": 0, "theta_star": 0.5})
    back = kd.load_dataset(kd.save_dataset(ds, tmp_path / "s.h5"))
    assert isinstance(back, kd.SequenceDataset) and back.attrs == ds.attrs
    assert list(back.groups) == list(ds.groups)
    for g, arrays in ds.groups.items():
        assert list(back.groups[g]) == list(arrays)          # channel order kept
        for k, a in arrays.items():
            np.testing.assert_array_equal(back.groups[g][k], a)
            assert back.groups[g][k].dtype == a.dtype


def test_broken_files_are_refused(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["X"] = np.zeros((5, 2))
        f["y"] = np.zeros(4)
    with pytest.raises(InputError, match="/X has 5 rows but /y has 4"):
        kd.load_dataset(tmp_path / "a.h5")
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f.attrs["kind"] = "sequences"
        f.create_group("hidden")
    with pytest.raises(InputError, match="without the group /sequences"):
        kd.load_dataset(tmp_path / "b.h5")
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("sequences/theta", data=np.zeros((3, 5)))
        f.create_dataset("hidden/L", data=np.zeros((2, 5)))
    with pytest.raises(InputError, match="/hidden/L has 2 rows but there are 3 sequences"):
        kd.load_dataset(tmp_path / "c.h5")
    (tmp_path / "d.h5").write_text("nope")
    with pytest.raises(InputError, match="not an HDF5 file"):
        kd.load_dataset(tmp_path / "d.h5")


# ---------------------------------------------------------------------- CLI
def test_cli_import_info_and_feynman(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,3\n4,5,6\n7,8,9\n")
    out = tmp_path / "t.h5"
    assert main(["dataset", "import", str(tmp_path / "t.csv"), "--target", "y",
                 "--out", str(out)]) == 0
    back = kd.load_dataset(out)
    np.testing.assert_array_equal(back.X, [[1, 2], [4, 5], [7, 8]])
    assert back.feature_names == ["a", "b"] and back.target_names == ["y"]
    capsys.readouterr()
    assert main(["dataset", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 rows, 2 inputs" in text and "input  a: [1, 7]" in text
    f = tmp_path / "f.h5"
    assert main(["dataset", "feynman", "I.6.2a", "--n", "100", "--noise", "0.01",
                 "--out", str(f)]) == 0
    ds = kd.load_dataset(f)
    assert ds.X.shape == (100, 1) and ds.noise == 0.01 and "theta" in ds.formula


@pytest.mark.parametrize("csv, args, match", [
    ("a,b,y\n1,2,3\n4,x,6\n", ["--target", "y"], "column 'b' has non-numeric cells in row 2"),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--target", "z"], "no column 'z'"),
    ("a,b,y\n1,2,3\n4,,6\n7,8,\n", ["--target", "y"], "(row 2)"),
    ("a,b,y\n1,2,3\n4,5,6,7\n", ["--target", "y"], "Expected 3 fields in line 3, saw 4"),
    # pandas would rename the second 'y' to 'y.1' and take it as an input
    ("y,x,y\n1,2,3\n4,5,6\n", ["--target", "y"], "has 2 columns named 'y'"),
    ("x,x,y\n1,2,3\n4,5,6\n", ["--target", "y"], "has 2 columns named 'x'"),
    # pandas would take the first column for row labels and shift the names
    ("x,y\n1,2,3\n4,5,6\n", ["--target", "y"], "more fields than its header"),
])
def test_cli_import_refuses_bad_tables_and_writes_nothing(tmp_path, capsys, csv, args, match):
    (tmp_path / "t.csv").write_text(csv)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["dataset", "import", str(tmp_path / "t.csv"), "--out",
                 str(out / "t.h5")] + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err
    assert list(out.iterdir()) == []


def test_cli_pendulum_and_info(tmp_path, capsys):
    out = tmp_path / "p.h5"
    assert main(["dataset", "pendulum", "--out", str(out), "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["dataset", "info", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("train: 300 sequences", "test_extrap: 100 sequences", "% positive",
                 "L0 [", "theta_star"):
        assert word in text
    ds = kd.load_dataset(out)
    assert ds.attrs["seed"] == 1 and describe_dataset(ds) in text

import h5py
import numpy as np
import pytest
import torch

import kandiscover as kd
from kandiscover.errors import ModelFileError
from kandiscover.symbolic import library


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def _rich_model():
    m = kd.KAN([3, (2, 2), (1, 1), 1], mult_arity=[[], [2, 3], [3], []], seed=4)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 3))
    m.fit(X, X[:, 0] * X[:, 1] * X[:, 2], steps=3, verbose=False)
    m.layers[0].mask[1, 3] = 0
    m.layers[1].mask[0, 1] = 0
    m.set_symbolic(0, 2, 4, torch.sin, (1.7, -0.3, 0.8, 0.1))
    return m, X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_identical(out, dtype):
    m, X = _rich_model()
    if dtype == "float64":
        m = m.double()
        assert m.config["dtype"] == "float64"
    path = kd.save(m, out / "m.h5")
    back = kd.load(path)
    x = torch.as_tensor(X, dtype=m.dtype)
    with torch.no_grad():
        assert torch.equal(m(x), back(x))  # max abs difference 0
    assert back.mult_arity == [[], [2, 3], [3], []]
    assert back.layers[0].symbolic[(2, 4)].name == "sin"
    assert back.layers[0].mask[1, 3] == 0
    assert [p.name for p in out.iterdir()] == ["m.h5"]  # no temporary left
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == 1 and f.attrs["kind"] == "kandiscover.KAN"


def test_truncated_file(out):
    m, _ = _rich_model()
    path = kd.save(m, out / "m.h5")
    data = path.read_bytes()
    (out / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.h5"):
        kd.load(out / "cut.h5")


def test_not_hdf5_and_other_kind_and_missing(out):
    (out / "notes.h5").write_text("hello")
    with pytest.raises(ModelFileError, match="not an HDF5 file"):
        kd.load(out / "notes.h5")
    with h5py.File(out / "data.h5", "w") as f:
        f["X"] = np.zeros(3)
    with pytest.raises(ModelFileError, match="not a kandiscover model"):
        kd.load(out / "data.h5")
    with pytest.raises(ModelFileError, match="does not exist"):
        kd.load(out / "nothing.h5")


def test_damaged_model_content(out):
    m, _ = _rich_model()
    path = kd.save(m, out / "m.h5")
    with h5py.File(path, "a") as f:
        del f["layers/1/coef"]
    with pytest.raises(ModelFileError, match="incomplete or damaged"):
        kd.load(path)


def test_unregistered_function_refused_and_nothing_written(out):
    m = kd.KAN([1, 1])
    m.set_symbolic(0, 0, 0, lambda x: x * 2, name="double_it")
    with pytest.raises(ModelFileError, match="register"):
        kd.save(m, out / "m.h5")
    assert list(out.iterdir()) == []


def test_failed_write_leaves_previous_file_intact(out, monkeypatch):
    m, X = _rich_model()
    path = kd.save(m, out / "m.h5")
    before = path.read_bytes()
    import kandiscover.data.store as store

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(store.h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError):
        kd.save(m, path)
    assert path.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["m.h5"]


def test_registered_user_function_round_trips(out):
    def cube_root(x):
        return torch.sign(x) * x.abs() ** (1 / 3)
    import sympy
    library.register("cube_root_test", cube_root, lambda x: sympy.cbrt(x), 3,
                     overwrite=True)
    m = kd.KAN([1, 2, 1], seed=0, dtype="float64")
    m.set_symbolic(0, 0, 1, cube_root, (2.0, 0.0, 1.0, 0.0), name="cube_root_test")
    back = kd.load(kd.save(m, out / "u.h5"))
    x = torch.linspace(-1, 1, 11, dtype=torch.float64)[:, None]
    assert torch.equal(m(x), back(x))


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from kandiscover.data.store import _umask, atomic_path
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("x")
    mode = stat.S_IMODE(os.stat(tmp_path / "f.txt").st_mode)
    assert mode == 0o666 & ~_umask()
    os.chmod(tmp_path / "f.txt", 0o640)  # a replaced file keeps its mode
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("y")
    assert stat.S_IMODE(os.stat(tmp_path / "f.txt").st_mode) == 0o640


def test_atomic_write_onto_a_folder_fails_cleanly(tmp_path):
    from kandiscover.data.store import atomic_path
    (tmp_path / "x.h5").mkdir()
    with pytest.raises(ModelFileError, match="it is a folder"):
        kd.save(kd.KAN([1, 1], seed=0), tmp_path / "x.h5")
    # a folder appearing between the check and the rename: no temporary file left
    target = tmp_path / "y.h5"
    with pytest.raises(ModelFileError, match="cannot write"):
        with atomic_path(target, suffix=".h5") as tmp:
            tmp.write_text("data")
            target.mkdir()
            (target / "inside").write_text("keeps the folder non-empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "x.h5", "y.h5"]


@pytest.mark.parametrize("variant, kw", [("standard", {}),
                                         ("wide", dict(output_width=(2, 1),
                                                       window_scale="oscillator", dt=0.1))])
def test_seqkan_round_trip_keeps_grids_symbolic_edges_and_normalisation(tmp_path, variant, kw):
    from kandiscover.kan.seqkan import SeqKAN
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 6, 2))
    Y = (X[:, :, 0].sum(1) > 0)[:, None].repeat(2, 1)
    m = SeqKAN(2, 2, 2, variant=variant, seed=0, **kw)
    m.fit(X, Y, epochs=2, batch_size=8, grid_refine={1: 8})
    m.phi_h.set_symbolic(0, 0, 1, "sin", (1.5, 0.1, 0.7, -0.2))
    m.double()
    path = kd.save(m, tmp_path / "seq.h5")
    again = kd.load(path)
    assert isinstance(again, SeqKAN) and again.config == m.config
    assert again.phi_h.layers[0].num_grid == 8 and again.dtype == torch.float64
    assert again.phi_h.layers[0].symbolic[(0, 1)].name == "sin"
    np.testing.assert_array_equal(again.decision_function(X), m.decision_function(X))
    np.testing.assert_array_equal(again.hidden_states(X).detach().numpy(),
                                  m.hidden_states(X).detach().numpy())


def test_cli_reads_seqkan_files_or_says_which_command_does(tmp_path, capsys):
    from kandiscover.cli import main
    from kandiscover.kan.seqkan import SeqKAN
    path = kd.save(SeqKAN(2, 3, 1, seed=0), tmp_path / "seq.h5")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SeqKAN(input_size=2, hidden_size=3") and "Phi_o (output rule):" in out
    for args in (["extract", str(path)], ["plot", str(path), "--out", str(tmp_path / "p.png")]):
        assert main(args) == 2
        assert "holds a SeqKAN" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()

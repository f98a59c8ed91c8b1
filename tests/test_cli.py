import subprocess
import sys

import numpy as np
import pytest

import kandiscover as kd
from kandiscover.cli import main


def test_info_on_saved_model(tmp_path, capsys):
    m = kd.KAN([2, 3, 1], seed=0)
    import torch
    m.set_symbolic(0, 1, 2, torch.sin, (2.0, 0.0, 1.0, 0.0))
    path = kd.save(m, tmp_path / "m.h5")
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "layer 0: 6 live edges" in text and "sin" in text


def test_user_error_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("not a model")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kandiscover: error:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_the_package_import_leaves_the_slow_optional_modules_for_later():
    # every spawned study worker and CLI call imports the package (see
    # benchmarks/import_time.py); KANRegressor loads scikit-learn when first used
    code = ("import sys, kandiscover as kd; slow = ('sklearn', 'scipy.stats', 'matplotlib'); "
            "print([m for m in slow if m in sys.modules]); kd.KANRegressor; "
            "print('sklearn' in sys.modules, 'KANRegressor' in dir(kd))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split("\n")[:2] == ["[]", "True True"]
    with pytest.raises(AttributeError, match="no attribute 'KANRegresor'"):
        kd.KANRegresor


def test_module_entry_point_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kandiscover", "info", str(tmp_path / "x.h5")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    import json

    from kandiscover.study.demo import DEMO_LAWS, run
    from kandiscover.symbolic.export import render_check
    res = run(tmp_path / "out", verbose=True)
    text = capsys.readouterr().out
    assert [r.name for r in res.laws] == list(DEMO_LAWS)
    assert all(r.recovered and r.r2_test > 0.999999 for r in res.laws)
    for word in ("truth:", "recovered:", "LaTeX:", "test R^2:"):
        assert text.count(word) == 3
    for r in res.laws:
        render_check(r.latex)
        render_check(r.truth_latex)
        for f in r.files:
            assert f.stat().st_size > 0
        assert (tmp_path / "out" / f"{r.name}_network.png").read_bytes()[:4] == b"\x89PNG"
        back = kd.load(tmp_path / "out" / f"{r.name}.h5")
        from kandiscover.study.laws import get_law
        law = get_law(r.name)
        X = np.random.default_rng(5).uniform(-0.5, 0.5, (50, len(law.variables)))
        assert np.allclose(back.predict(X)[:, 0], law(X), rtol=1e-6, atol=1e-9)
    summary = json.loads(res.summary_path.read_text())
    assert [s["law"] for s in summary] == list(DEMO_LAWS)


def test_outputs_that_are_folders_or_files_of_the_wrong_kind_are_refused(tmp_path, capsys):
    folder = tmp_path / "d.h5"
    folder.mkdir()
    model = kd.save(kd.KAN([1, 1], seed=0), tmp_path / "m.h5")
    (tmp_path / "f.h5").write_text("a file")
    for args, match in (
            (["dataset", "feynman", "I.6.2a", "--out", str(folder)], "is a folder"),
            (["plot", str(model), "--out", str(tmp_path / "d.h5")], "must end in"),
            (["dataset", "feynman", "I.6.2a", "--seed", "-1", "--out",
              str(tmp_path / "s.h5")], "seed must be an integer >= 0"),
            (["study", "feynman", "--equations", "I.6.2a", "--out", str(tmp_path / "f.h5")],
             "is a file; a study writes into a folder")):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err
    png = tmp_path / "p.png"
    png.mkdir()
    assert main(["plot", str(model), "--out", str(png)]) == 2
    assert "is a folder" in capsys.readouterr().err
    # nothing half-written left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "d.h5", "f.h5", "m.h5", "p.png"]
    assert not list(folder.iterdir()) and not list(png.iterdir())

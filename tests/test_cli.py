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


def test_module_entry_point_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kandiscover", "info", str(tmp_path / "x.h5")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    from kandiscover.study.demo import run
    res = run(tmp_path / "out", verbose=False)
    assert res.width_pruned == [2, 1, 1]
    assert res.test_rmse_pruned < 1e-2 and res.test_rmse_dense < 1e-3
    assert res.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = kd.load(res.model_path)
    X = np.random.default_rng(5).uniform(-1, 1, (50, 2))
    assert np.abs(back.predict(X) - np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)[:, None]).max() < 0.05

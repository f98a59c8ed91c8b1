"""The recovery-study runner: Dask vs local executor, SIGKILL recovery, bad input."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from kandiscover.errors import InputError
from kandiscover.study.results import ResultStore
from kandiscover.study.runner import run_study

BIN = Path(sys.executable).parent
OPERON = {"operon": {"generations": 5}}
DETERMINISTIC = ("status", "expression", "complexity", "symbolic_solution", "truth")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def _snapshot(store: ResultStore) -> dict:
    return {r["key"]: {k: r[k] for k in DETERMINISTIC} for r in store.runs()}


def test_dask_cluster_matches_local_executor(tmp_path):
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    work = tmp_path / "dask"
    work.mkdir()
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], cwd=work, env=_env(),
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
                 "--local-directory", str(work)], cwd=work, env=_env(),
                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s", set_as_default=False) as c:
                    c.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        args = (["I.12.1", "I.6.2a"], ["operon", "kan"], [0.0], [0], 1.0)
        kw = dict(settings=OPERON, n_samples=200, verbose=False)
        dask_store = run_study(*args, tmp_path / "dask_out", scheduler=address, **kw)
        local_store = run_study(*args, tmp_path / "local_out", workers=2, **kw)
    finally:
        for p in procs:
            _kill(p)
    a, b = _snapshot(dask_store), _snapshot(local_store)
    assert len(a) == 4 and sorted(a) == sorted(b)
    assert all(v["status"] == "ok" for v in a.values()), a
    assert a == b


def _stored_count(path: Path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return len(f["runs"]) if "runs" in f else 0
    except (OSError, KeyError):
        return 0


@pytest.mark.slow   # about 70 s on 2 busy cores
def test_sigkill_midway_then_resume(tmp_path):
    out = tmp_path / "out"
    eqs = "I.6.2a,I.12.1,I.14.3,I.12.4,I.25.13,II.3.24"
    cmd = [sys.executable, "-m", "kandiscover", "study", "feynman", "--equations", eqs,
           "--methods", "operon", "--budget", "1", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while _stored_count(out / "results.h5") < 1:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no task finished in 120 s"
            time.sleep(0.1)
    finally:
        _kill(proc)
    first = ResultStore.__new__(ResultStore)
    first.path = out / "results.h5"
    before = {r["key"]: (r["expression"], r["seconds"]) for r in first.runs()}
    assert 1 <= len(before) < 6
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with h5py.File(out / "results.h5", "r") as f:
        keys = list(f["runs"])
    assert len(keys) == len(set(keys)) == 6
    assert sorted(keys) == sorted(f"{e}__operon__noise0__seed0" for e in eqs.split(","))
    after = {r["key"]: (r["expression"], r["seconds"]) for r in first.runs()}
    for k, v in before.items():
        assert after[k] == v


@pytest.mark.parametrize("kwargs, match", [
    (dict(methods=["kan", "gplearn"]), "unknown method 'gplearn'.*kan, operon, pysr"),
    (dict(datasets=["I.6.2x"]), "did you mean .*I.6.2a"),
    (dict(budget=0), "budget must be .* > 0"),
    (dict(budget=-3.0), "budget must be .* > 0"),
    (dict(methods=[]), "methods is empty"),
    (dict(seeds=[]), "seeds is empty"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = dict(datasets=["I.6.2a"], methods=["operon"], noise_levels=[0.0], seeds=[0],
                budget=1.0, out=tmp_path / "out", verbose=False)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        run_study(**args)
    assert not (tmp_path / "out" / "results.h5").exists()


def test_unreachable_scheduler_fails_fast(tmp_path):
    port = _free_port()          # closed again: nothing listens there
    t = time.monotonic()
    with pytest.raises(InputError, match=f"tcp://127.0.0.1:{port}"):
        run_study(["I.6.2a"], ["operon"], [0.0], [0], 1.0, tmp_path / "out",
                  scheduler=f"tcp://127.0.0.1:{port}", verbose=False)
    assert time.monotonic() - t < 15


def test_folder_with_a_broken_file(tmp_path):
    from kandiscover.data.dataset import save_dataset
    from kandiscover.data.feynman import sample
    from kandiscover.study.feynman_study import run_folder_study

    folder = tmp_path / "data"
    folder.mkdir()
    save_dataset(sample("I.12.1", n=200, seed=0), folder / "good.h5")
    (folder / "broken.h5").write_bytes(b"not an hdf5 file at all")
    store = run_folder_study(folder, methods=["operon"], budget=1.0, out=tmp_path / "out",
                             settings=OPERON, verbose=False)
    runs = {r["dataset"]: r for r in store.runs()}
    assert runs["good"]["status"] == "ok"
    assert runs["good"]["truth"] == "Nn*mu"
    assert runs["good"]["symbolic_solution"] is True
    assert runs["broken"]["status"] == "failed"
    assert "broken.h5" in runs["broken"]["error"] and "HDF5" in runs["broken"]["error"]


def test_results_of_another_definition_are_refused(tmp_path):
    out = tmp_path / "out"
    old = ResultStore(out / "results.h5", "recovery", {"budget": 5.0})
    old.add("x", {"status": "ok"})
    with pytest.raises(InputError, match="different study definition.*budget"):
        run_study(["I.6.2a"], ["operon"], [0.0], [0], 1.0, out, verbose=False)


def test_a_second_writer_is_refused(tmp_path):
    from kandiscover.study import runner
    held = runner._lock(tmp_path)
    try:
        with pytest.raises(InputError, match="another study is writing"):
            runner.run_study(["I.6.2a"], ["operon"], [0.0], [0], 1.0, tmp_path,
                             verbose=False)
    finally:
        held.close()
    tasks = runner.make_tasks([{"name": "I.6.2a", "source": {"kind": "feynman"}}], ["kan"],
                              [0.0, 0.0], [0], {"budget": 1.0, "n_samples": 10,
                                                "symbolic_timeout": 1.0, "settings": {}})
    assert len(tasks) == 1     # --noise 0,0 is one task


def _task_processes() -> list:
    import psutil
    out = []
    for p in psutil.process_iter(["cmdline", "ppid"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "_isolated_main" in cmd or (   # a Dask task's process, or a local one
                "spawn_main" in cmd and p.info["ppid"] == os.getpid()):
            out.append(p)
    return out


@pytest.mark.parametrize("executor", [dict(dask_workers=1), dict(workers=1)],
                         ids=["dask", "local"])
def test_timeout_kills_the_task_process(tmp_path, executor):
    """The task runs in a process of its own (on Dask, a child of the worker):
    at the hard timeout it is killed (nothing goes on computing behind the
    stored timeout), and the run says how long it ran."""
    before = {p.pid for p in _task_processes()}
    store = run_study(["I.9.18"], ["kan"], [0.0], [0], 60.0, tmp_path / "out",
                      hard_timeout=6.0, verbose=False, **executor)
    (run,) = store.runs()
    assert run["status"] == "timeout"
    assert "hard timeout of 6 s" in run["error"]
    assert 6.0 <= run["wall_seconds"] < 50
    left = [p for p in _task_processes() if p.pid not in before and p.is_running()
            and p.status() != "zombie"]
    assert not left, [" ".join(p.cmdline()) for p in left]


def _feynman_command(tmp_path: Path) -> list[str]:
    return ["feynman", "--equations", "I.9.18,I.10.7", "--methods", "kan", "--budget", "60"]


def _pendulum_command(tmp_path: Path) -> list[str]:
    from kandiscover.data.dataset import save_dataset
    from kandiscover.data.pendulum import make_pendulum
    save_dataset(make_pendulum(seed=3, n_train=12, n_val=4, n_interp=4, n_extrap=4,
                               duration=6.0), tmp_path / "p.h5")
    return ["pendulum", "--quick", "--methods", "rnn", "--seeds", "2", "--workers", "2",
            "--dataset", str(tmp_path / "p.h5"),
            "--settings", '{"train": {"epochs": 100000, "patience": 100000}}']


@pytest.mark.parametrize("study", [_feynman_command, _pendulum_command],
                         ids=["feynman", "pendulum"])
def test_sigterm_stops_the_study_and_its_tasks(tmp_path, study):
    """SIGTERM to the study's process alone: it stops, and so do the processes
    running its tasks (nothing goes on training as an orphan)."""
    import psutil
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "kandiscover", "study", *study(tmp_path), "--out", str(out),
           "--quiet"]
    log = tmp_path / "log.txt"       # a file, not a pipe: an orphan would hold a pipe open
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), start_new_session=True,
                                stdout=sink, stderr=subprocess.STDOUT)
    children = []
    try:
        deadline = time.monotonic() + 60
        while not children:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no task process started in 60 s"
            children = [c for c in psutil.Process(proc.pid).children(recursive=True)
                        if "multiprocessing.spawn" in " ".join(c.cmdline())]
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)          # the study's process alone
        assert proc.wait(30) == 130, log.read_text()
        assert "interrupted" in log.read_text()
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
    finally:
        _kill(proc)
        for c in children:              # an orphan left by a failure of this test
            if c.is_running():
                c.kill()


def test_changed_dataset_file_runs_again(tmp_path, capsys):
    from kandiscover.data.dataset import save_dataset
    from kandiscover.data.feynman import sample
    from kandiscover.study.feynman_study import run_folder_study

    folder = tmp_path / "data"
    folder.mkdir()
    save_dataset(sample("I.12.1", n=120, seed=0), folder / "eq.h5")
    kw = dict(methods=["operon"], budget=1.0, out=tmp_path / "out", settings=OPERON)
    first = run_folder_study(folder, **kw, verbose=False).get("eq__operon__noise0__seed0")
    assert first["status"] == "ok" and len(first["data_sha256"]) == 64
    again = run_folder_study(folder, **kw, verbose=True).get("eq__operon__noise0__seed0")
    assert again["wall_seconds"] == first["wall_seconds"]          # skipped
    save_dataset(sample("I.12.1", n=150, seed=1), folder / "eq.h5")
    capsys.readouterr()
    third = run_folder_study(folder, **kw, verbose=True).get("eq__operon__noise0__seed0")
    assert "changed since" in capsys.readouterr().err
    assert third["data_sha256"] != first["data_sha256"]
    assert third["wall_seconds"] != first["wall_seconds"]


def test_noise_levels_with_the_same_key_are_refused():
    from kandiscover.study import runner
    with pytest.raises(InputError, match="same result key"):
        runner.make_tasks([{"name": "I.6.2a", "source": {"kind": "feynman"}}], ["kan"],
                          [1e-7, 1.0000001e-7], [0],
                          {"budget": 1.0, "n_samples": 10, "symbolic_timeout": 1.0,
                           "settings": {}})


def test_cli_settings_reach_the_method(tmp_path, capsys):
    from kandiscover.cli import main
    out = tmp_path / "out"
    args = ["study", "feynman", "--equations", "I.12.1", "--methods", "operon", "--budget",
            "1", "--out", str(out), "--quiet"]
    assert main(args + ["--settings", '{"operon": {"generations": 5}}']) == 0
    store = ResultStore.open(out)
    assert store.definition["settings"] == {"operon": {"generations": 5}}
    assert store.runs()[0]["status"] == "ok"
    capsys.readouterr()
    assert main(args + ["--settings", '{"operon": 5}']) == 2
    assert "keyword arguments" in capsys.readouterr().err
    assert main(args + ["--settings", "{operon"]) == 2
    assert "must be JSON" in capsys.readouterr().err
    from kandiscover.study.runner import run_study
    with pytest.raises(InputError, match="keyword arguments"):   # the same check in Python
        run_study(["I.12.1"], ["operon"], [0.0], 1, 1.0, tmp_path / "py",
                  settings={"operon": 5})
    assert main(args) == 2                 # another definition: refused
    assert "different study definition" in capsys.readouterr().err

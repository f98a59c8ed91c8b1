r"""Physics-law recovery studies: datasets x methods x noise levels x seeds.

A *task* is one (dataset, method, noise, seed).  :func:`run_task` runs it:

1. the dataset: a Feynman equation sampled with ``n_samples`` points (no
   noise), or a dataset file (``.h5`` written by ``save_dataset``, or a
   ``.csv`` whose target is the column ``target``, else ``y``, else the last
   column); its truth formula is the equation, or the file's ``formula``
   attribute (no symbolic check without one);
2. the SRBench protocol: a 75/25 train/test split shuffled with the seed,
   noise on the *training* target only,
   :math:`y_{train} + N(0, (\text{noise}\cdot\sqrt{\overline{y_{train}^2}})^2)`;
   the test target stays clean;
3. the method's search on the training part within the budget, then test
   :math:`R^2`, the symbolic-solution check against the truth (30 s
   simplification limit) and the accuracy solution (test :math:`R^2 > 0.999`).

:func:`run_study` runs the tasks on a local pool of processes (default), an
existing Dask cluster (``scheduler="tcp://host:port"``) or a Dask
``LocalCluster`` it starts (``dask_workers=N``).  The parent process alone
writes ``OUT/results.h5`` (:class:`~kandiscover.study.results.ResultStore`,
rewritten atomically) right after each task finishes.

Retry policy
------------
Rerunning the same study skips every task whose key is stored with status
``ok``; tasks stored as ``failed``, ``timeout`` or ``unavailable`` are tried
again (a crash, a killed machine or a too-short hard timeout are often
transient; a broken data file fails again at once and costs nothing; an
unavailable method costs one probe).  One study at a time may write a
results file: a second run on the same folder is refused while the first holds
its lock.  Each
key is stored once: a retry replaces the earlier entry.

Timeouts
--------
Every task runs in a process of its own, in that process's main thread: a
spawned child of the study (local executor) or a child process that the Dask
worker starts (Dask executor; at most one task per worker thread).  The
process is killed after ``hard_timeout`` seconds (default
``2 * budget + 120``) and the task stored as ``timeout``, so no computation
goes on behind a timed-out task.  The sympy limits (the symbolic check's 30 s,
the formula simplification's) count CPU time (``SIGPROF``) in that main thread.  Task
processes die with their parent (Linux).  SIGTERM or Ctrl-C stops the study;
finished tasks stay stored.  The local executor and a ``LocalCluster`` kill
their running tasks on the way out; on an existing cluster (``scheduler``)
the running tasks go on until they end or reach ``hard_timeout``, and their
results are not stored.

Changed data
------------
A task on a dataset file stores the file's SHA-256; when the file has changed
since (both hashes known), the task counts as not done and runs again.

Result schema (attributes of ``/runs/<key>``): dataset, method, noise, seed,
status (ok | failed | timeout | unavailable), error, seconds, wall_seconds,
expression, latex, complexity, train_r2, test_r2, symbolic_solution,
accuracy_solution, truth, variables, pareto ([complexity, loss, expression]
rows), raw.  Keys are ``f"{dataset}__{method}__noise{noise:g}__seed{seed}"``.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .results import ResultStore

__all__ = ["run_task", "run_study", "task_key", "make_tasks", "RUNNER_VERSION", "STUDY_NAME",
           "SYMBOLIC_TIMEOUT", "DATASET_SUFFIXES"]

RUNNER_VERSION = 1
STUDY_NAME = "recovery"
SYMBOLIC_TIMEOUT = 30.0
DATASET_SUFFIXES = (".h5", ".hdf5", ".csv")
DONE_STATUSES = ("ok",)  # failed, timed-out and unavailable tasks are tried again
_CONNECT_TIMEOUT = 10.0
_DASK_GRACE = 60.0


# ------------------------------------------------------------------ tasks
def task_key(dataset: str, method: str, noise: float, seed: int) -> str:
    return f"{dataset}__{method}__noise{float(noise):g}__seed{int(seed)}"


def _blank(spec: dict) -> dict[str, Any]:
    return {"dataset": spec["dataset"], "method": spec["method"],
            "noise": float(spec["noise"]), "seed": int(spec["seed"]), "status": "failed",
            "error": "", "seconds": float("nan"), "wall_seconds": 0.0, "expression": "",
            "latex": "", "complexity": 0, "train_r2": float("nan"), "test_r2": float("nan"),
            "symbolic_solution": False, "accuracy_solution": False, "truth": "",
            "variables": [], "pareto": [], "raw": {},
            "data_sha256": spec["source"].get("sha256", "")}


def _csv_target(path: Path) -> str:
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    names = [h.strip() for h in header]
    if not names:
        raise InputError(f"{path} is empty (no header row of column names)")
    for cand in ("target", "y"):
        if cand in names:
            return cand
    return names[-1]


def _parse_truth(formula: Any, variables: list[str]):
    from ..symbolic.parse import parse_formula

    if formula is None or not str(formula).strip():
        return None
    text = str(formula)
    if "=" in text:                     # "F = m*a" -> "m*a"
        text = text.split("=", 1)[1]
    return parse_formula(text, variables)


def _load(spec: dict):
    """(X, y, variables, truth) of the task's dataset (truth may be None)."""
    source = spec["source"]
    if source["kind"] == "feynman":
        from ..data.feynman import get_feynman, sample

        ds = sample(source["name"], n=spec["n_samples"], noise=0.0, seed=spec["seed"])
        return ds.X, ds.y, list(ds.feature_names), get_feynman(source["name"]).expression
    path = Path(source["path"])
    if path.suffix.lower() == ".csv":
        from ..data.table import read_table

        X, y, names = read_table(path, _csv_target(path))
        return X, y, names, None
    from ..data.dataset import TabularDataset, load_dataset

    ds = load_dataset(path)
    if not isinstance(ds, TabularDataset):
        raise InputError(f"{path} is a sequence dataset; a recovery study needs a table "
                         "(/X and /y)")
    if ds.y.ndim == 2 and ds.y.shape[1] != 1:
        raise InputError(f"{path} has {ds.y.shape[1]} targets; a recovery study needs one")
    names = list(ds.feature_names)
    return ds.X, ds.y.reshape(-1), names, _parse_truth(ds.formula, names)


def _split(X: np.ndarray, y: np.ndarray, noise: float, seed: int):
    """SRBench: 75/25 shuffled split; noise on the training target only."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    n_train = int(round(0.75 * len(y)))
    tr, te = idx[:n_train], idx[n_train:]
    y_train = y[tr].copy()
    if noise > 0:
        rms = float(np.sqrt(np.mean(y_train ** 2)))
        y_train = y_train + rng.normal(0.0, noise * rms, size=len(y_train))
    return X[tr], y_train, X[te], y[te]


def run_task(spec: dict) -> tuple[str, dict[str, Any]]:
    """Run one task; never raises for a failing method or dataset.

    ``spec`` holds ``dataset``, ``method``, ``noise``, ``seed``, ``budget``,
    ``n_samples``, ``settings`` (the method's keyword arguments),
    ``symbolic_timeout`` and ``source`` (``{"kind": "feynman", "name": ...}``
    or ``{"kind": "file", "path": ...}``).  Returns ``(key, attrs)`` with the
    schema of the module docstring.
    """
    from ..compare.backends.base import BackendUnavailable, get_backend
    from ..compare.metrics import (SimplifyTimeout, accuracy_solution, r2_score,
                                   symbolic_solution)
    from ..symbolic.export import to_latex, to_numpy

    key = task_key(spec["dataset"], spec["method"], spec["noise"], spec["seed"])
    attrs = _blank(spec)
    started = time.perf_counter()
    try:
        X, y, variables, truth = _load(spec)
        attrs["variables"] = list(variables)
        attrs["truth"] = "" if truth is None else str(truth)
        Xtr, ytr, Xte, yte = _split(X, y, float(spec["noise"]), int(spec["seed"]))
        backend = get_backend(spec["method"])
        res = backend.run(Xtr, ytr, variables, float(spec["budget"]), int(spec["seed"]),
                          **dict(spec.get("settings") or {}))
        expr = res.expression
        with np.errstate(all="ignore"):
            try:
                pred = np.broadcast_to(np.asarray(to_numpy(expr, variables)(Xte), float),
                                       yte.shape)
            except Exception:  # noqa: BLE001 - an unevaluable formula scores nothing
                pred = np.full(yte.shape, np.nan)
        test_r2 = r2_score(yte, pred)
        recovered = False
        if truth is not None:
            try:
                recovered = bool(symbolic_solution(expr, truth,
                                                   timeout=spec.get("symbolic_timeout",
                                                                    SYMBOLIC_TIMEOUT)))
            except SimplifyTimeout as exc:
                attrs["raw_note"] = str(exc)
                recovered = False
            except Exception as exc:  # noqa: BLE001 - sympy may fail; the search result stays
                attrs["raw_note"] = f"symbolic check failed: {type(exc).__name__}: {exc}"
                recovered = False
        try:
            latex = to_latex(expr)
        except Exception:  # noqa: BLE001 - LaTeX is cosmetic; the report falls back to text
            latex = ""
        attrs.update(
            status="ok", seconds=float(res.seconds), expression=str(expr),
            latex=latex, complexity=int(res.complexity),
            train_r2=float(res.train_r2), test_r2=float(test_r2),
            symbolic_solution=recovered,
            accuracy_solution=bool(np.isfinite(pred).all() and accuracy_solution(yte, pred)),
            pareto=[[int(e.complexity), float(e.loss), str(e.expression)] for e in res.pareto],
            raw=dict(res.raw))
        note = attrs.pop("raw_note", None)
        if note:
            attrs["raw"]["symbolic_check"] = note
    except BackendUnavailable as exc:
        attrs.update(status="unavailable", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a failing task is recorded, never lost
        msg = str(exc).strip() or type(exc).__name__
        attrs.update(status="failed", error=f"{type(exc).__name__}: {msg}")
        attrs["raw"] = {"traceback": traceback.format_exc(limit=8)[-4000:]}
    attrs.pop("raw_note", None)
    attrs["wall_seconds"] = time.perf_counter() - started
    return key, attrs


def make_tasks(datasets: Sequence[dict], methods: Sequence[str], noise_levels: Sequence[float],
               seeds: Sequence[int], common: dict[str, Any]) -> list[dict]:
    """The task specs, dataset-major (``datasets``: ``{"name", "source"}`` dicts)."""
    out, keys = [], {}
    for ds in datasets:
        for m in methods:
            for noise in noise_levels:
                for seed in seeds:
                    key = task_key(ds["name"], m, noise, seed)
                    if key in keys:
                        if float(keys[key]) != float(noise):
                            raise InputError(f"noise levels {keys[key]!r} and {noise!r} "
                                             "give the same result key "
                                             f"(noise{float(noise):g}); use levels that "
                                             "differ in their first 6 digits")
                        continue            # e.g. --noise 0,0: one task, not two
                    keys[key] = noise
                    out.append({"dataset": ds["name"], "source": ds["source"], "method": m,
                                "noise": float(noise), "seed": int(seed),
                                "budget": common["budget"], "n_samples": common["n_samples"],
                                "symbolic_timeout": common["symbolic_timeout"],
                                "settings": dict(common["settings"].get(m, {}))})
    return out


def _lock(out: Path):
    """An exclusive lock on ``out/.results.lock`` for this process's lifetime
    (released when the returned file is closed or the process ends)."""
    import fcntl
    f = open(out / ".results.lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise InputError(f"another study is writing {out / 'results.h5'}; wait for it to "
                         "finish (two writers would lose each other's results)") from None
    return f


# -------------------------------------------------------------- executors
def _die_with_parent(parent: int | None = None) -> None:
    """Linux: have this process killed when the process that started it ends
    (``parent``: its pid, to catch a parent that ended before this call)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _child(spec: dict, conn, parent: int | None = None) -> None:   # a spawned process
    _die_with_parent(parent)
    try:
        conn.send(run_task(spec))
    except BaseException as exc:  # noqa: BLE001
        try:
            conn.send(("", {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()


def _failure(spec: dict, status: str, error: str, wall: float) -> dict[str, Any]:
    attrs = _blank(spec)
    attrs.update(status=status, error=error, wall_seconds=float(wall))
    return attrs


def _run_local(tasks: list[dict], workers: int, hard_timeout: float, on_done, on_progress):
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    queue = list(tasks)
    running: dict[Any, tuple] = {}          # conn -> (proc, spec, started)
    try:
        while queue or running:
            while queue and len(running) < workers:
                spec = queue.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(spec, send, os.getpid()),
                                   daemon=True)
                proc.start()
                send.close()
                running[recv] = (proc, spec, time.perf_counter())
            on_progress(len(running))
            ready = wait(list(running), timeout=0.5)
            for conn in ready:
                proc, spec, t0 = running.pop(conn)
                try:
                    key, attrs = conn.recv()
                    if not key:
                        attrs = _failure(spec, "failed", attrs["error"],
                                         time.perf_counter() - t0)
                except (EOFError, OSError):
                    proc.join(5)
                    attrs = _failure(spec, "failed", "the task's process died (exit code "
                                     f"{proc.exitcode}) without a result",
                                     time.perf_counter() - t0)
                conn.close()
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
                on_done(spec, attrs)
            now = time.perf_counter()
            for conn, (proc, spec, t0) in list(running.items()):
                if now - t0 > hard_timeout:
                    proc.kill()
                    proc.join(5)
                    conn.close()
                    del running[conn]
                    on_done(spec, _failure(spec, "timeout", f"killed after the hard timeout "
                                           f"of {hard_timeout:g} s", now - t0))
    finally:
        for conn, (proc, _, _) in running.items():
            proc.kill()
            proc.join(5)
            conn.close()


def _isolated_main(parent: int) -> None:   # ``python -c`` entry of a Dask task's process
    import pickle

    _die_with_parent(parent)
    spec = pickle.load(sys.stdin.buffer)
    result_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)             # the methods' prints go to stderr; stdout carries the result
    try:
        result = run_task(spec)
    except BaseException as exc:  # noqa: BLE001 - reported, never lost
        result = ("", {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    pickle.dump(result, result_out)
    result_out.flush()
    sys.stderr.flush()
    os._exit(0)               # no exit hooks or stray threads can hold the result back


def _run_isolated(spec: dict, hard_timeout: float) -> tuple[str, dict[str, Any]]:
    """Run one task in a child process of this (Dask worker) process, killed
    after ``hard_timeout`` seconds; same return value as :func:`run_task`."""
    import pickle
    import subprocess

    import kandiscover

    # the worker's own kandiscover, found last (an installed one keeps its place)
    root = str(Path(kandiscover.__file__).resolve().parents[1])
    code = (f"import sys; sys.path.append({root!r}); "
            f"from kandiscover.study.runner import _isolated_main; _isolated_main({os.getpid()})")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(pickle.dumps(spec), timeout=hard_timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # the task and anything it started
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return "", _failure(spec, "timeout", f"killed after the hard timeout of "
                            f"{hard_timeout:g} s", time.perf_counter() - started)
    try:
        key, attrs = pickle.loads(out)
    except Exception:  # noqa: BLE001 - no result: the process died
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        return "", _failure(spec, "failed", f"the task's process died (exit code "
                            f"{proc.returncode}) without a result: {tail}",
                            time.perf_counter() - started)
    if not key:
        attrs = _failure(spec, "failed", attrs["error"], time.perf_counter() - started)
    return key, attrs


def _check_address(address: str) -> None:
    if not isinstance(address, str) or not re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d+", address):
        raise InputError(f"scheduler must be an address such as tcp://HOST:PORT, "
                         f"got {address!r}")


def _connect(scheduler: str | None, dask_workers: int | None):
    """(client, cluster or None) for the Dask executor."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InputError(f"the Dask executor needs dask.distributed ({exc}); "
                         "pip install 'dask[distributed]'") from None
    if scheduler is not None:
        _check_address(scheduler)
        try:
            client = Client(scheduler, timeout=f"{_CONNECT_TIMEOUT:g}s",
                            set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} within "
                             f"{_CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})") from None
        return client, None
    cluster = LocalCluster(n_workers=int(dask_workers), threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster, set_as_default=False), cluster


def _run_dask(tasks: list[dict], client, hard_timeout: float, on_done, on_progress):
    slots = max(1, sum(client.nthreads().values()))
    queue = list(tasks)
    running: dict[Any, tuple] = {}          # future -> (spec, started)
    try:
        while queue or running:
            while queue and len(running) < slots:
                spec = queue.pop(0)
                fut = client.submit(_run_isolated, spec, hard_timeout, pure=False)
                running[fut] = (spec, time.perf_counter())
            on_progress(len(running))
            done = [f for f in running if f.done()]
            if not done:
                time.sleep(0.2)
            for fut in done:
                spec, t0 = running.pop(fut)
                try:
                    key, attrs = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                    attrs = _failure(spec, "failed", f"{type(exc).__name__}: {exc}",
                                     time.perf_counter() - t0)
                on_done(spec, attrs)
            now = time.perf_counter()
            for fut, (spec, t0) in list(running.items()):
                # the worker kills the task's process at hard_timeout; this catches a
                # worker that hangs or vanishes without reporting
                if now - t0 > hard_timeout + _DASK_GRACE:
                    fut.cancel()
                    del running[fut]
                    on_done(spec, _failure(spec, "timeout", f"no answer from the Dask "
                                           f"worker {_DASK_GRACE:g} s after the hard "
                                           f"timeout of {hard_timeout:g} s", now - t0))
    finally:
        for fut in running:
            fut.cancel()


# ------------------------------------------------------------------ study
@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises KeyboardInterrupt, so that the executors kill their running
    tasks on the way out (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _positive_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InputError(f"{what} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _nonempty(values: Any, what: str) -> list:
    if values is None or isinstance(values, str):
        raise InputError(f"{what} must be a list, got {values!r}")
    values = list(values)
    if not values:
        raise InputError(f"{what} is empty; give at least one")
    return values


def _sha256(path: Path) -> str:
    """The file's SHA-256 ("" when it cannot be read: its tasks fail with the reason)."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def _resolve_datasets(datasets: Sequence[Any]) -> list[dict]:
    """Feynman names or dataset files -> ``{"name", "source"}`` dicts."""
    from ..data.feynman import get_feynman

    out, seen = [], set()
    for d in _nonempty(datasets, "datasets"):
        if isinstance(d, dict):
            item = d
        elif isinstance(d, Path) or (isinstance(d, str) and
                                     Path(d).suffix.lower() in DATASET_SUFFIXES):
            p = Path(d)
            item = {"name": p.stem, "source": {"kind": "file", "path": str(p.resolve()),
                                               "sha256": _sha256(p)}}
        else:
            eq = get_feynman(str(d))      # unknown names: InputError with suggestions
            item = {"name": eq.name, "source": {"kind": "feynman", "name": eq.name}}
        if not item["name"] or "/" in item["name"]:
            raise InputError(f"dataset name {item['name']!r} cannot be a result key")
        if item["name"] in seen:
            raise InputError(f"dataset {item['name']!r} is given twice")
        seen.add(item["name"])
        out.append(item)
    return out


def run_study(datasets: Sequence[Any], methods: Sequence[str], noise_levels: Sequence[float],
              seeds: Sequence[int] | int, budget: float, out: str | os.PathLike,
              workers: int = 1, scheduler: str | None = None, dask_workers: int | None = None,
              settings: dict[str, dict] | None = None, verbose: bool = True, *,
              n_samples: int = 1000, hard_timeout: float | None = None,
              symbolic_timeout: float = SYMBOLIC_TIMEOUT, study: str = STUDY_NAME
              ) -> ResultStore:
    """Run (or resume) a recovery study and return its results store.

    Parameters
    ----------
    datasets : Feynman equation names (``"I.6.2a"``), dataset file paths
        (``.h5``/``.csv``), or ``{"name", "source"}`` dicts
    methods : backend names (``kan``, ``operon``, ``pysr``)
    noise_levels : target noise fractions (SRBench: 0, 0.001, 0.01, 0.1)
    seeds : list of seeds, or an int n for seeds 0..n-1
    budget : seconds of search per task (> 0)
    out : folder of ``results.h5`` (and the report)
    workers : local processes at a time (local executor)
    scheduler : ``tcp://HOST:PORT`` of a running Dask scheduler
    dask_workers : start a Dask LocalCluster with this many one-thread workers
    settings : per-method keyword arguments, e.g. ``{"operon": {"generations": 5}}``
    n_samples : points sampled per Feynman equation (before the 75/25 split)
    hard_timeout : seconds after which a task is killed (default 2 * budget + 120)
    symbolic_timeout : seconds of sympy simplification per symbolic check

    The study definition stored in ``results.h5`` (refused when it differs)
    holds ``budget``, ``n_samples``, ``settings``, ``symbolic_timeout``, the
    split and noise protocol and the runner version; the task list is free.
    """
    from ..compare.backends.base import BACKENDS, get_backend

    methods = [str(m) for m in _nonempty(methods, "methods")]
    unknown = [m for m in methods if m not in BACKENDS]
    if unknown:
        raise InputError(f"unknown method{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; the methods are "
                         f"{', '.join(BACKENDS)}")
    if len(set(methods)) != len(methods):
        raise InputError(f"a method is given twice in {methods}")
    budget = _positive_number(budget, "budget")
    hard_timeout = 2 * budget + 120 if hard_timeout is None else \
        _positive_number(hard_timeout, "hard_timeout")
    symbolic_timeout = _positive_number(symbolic_timeout, "symbolic_timeout")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise InputError(f"seeds must be >= 1, got {seeds}")
        seeds = list(range(seeds))
    seeds = _nonempty(seeds, "seeds")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise InputError(f"seeds must be integers >= 0, got {seeds}")
    noise_levels = _nonempty(noise_levels, "noise levels")
    for nz in noise_levels:
        if isinstance(nz, bool) or not isinstance(nz, (int, float)) or not math.isfinite(nz) \
                or nz < 0:
            raise InputError(f"noise levels must be numbers >= 0, got {nz!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 8:
        raise InputError(f"n_samples must be an integer >= 8, got {n_samples!r}")
    settings = dict(settings or {})
    stray = [m for m in settings if m not in methods]
    if stray:
        raise InputError(f"settings given for {', '.join(stray)}, which is not among the "
                         f"methods {', '.join(methods)}")
    if scheduler is not None and dask_workers is not None:
        raise InputError("give either scheduler (an existing Dask cluster) or dask_workers "
                         "(a local Dask cluster), not both")
    if scheduler is not None:
        _check_address(scheduler)
    if dask_workers is not None and (isinstance(dask_workers, bool)
                                     or not isinstance(dask_workers, int) or dask_workers < 1):
        raise InputError(f"dask_workers must be an integer >= 1, got {dask_workers!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    items = _resolve_datasets(datasets)

    from .. import __version__
    definition = {"budget": budget, "n_samples": n_samples,
                  "settings": {m: settings[m] for m in sorted(settings)},
                  "symbolic_timeout": symbolic_timeout,
                  "protocol": "SRBench: 75/25 split by seed; train-target noise "
                              "N(0, (noise*rms(y_train))^2); test target clean",
                  "runner_version": RUNNER_VERSION, "version": __version__}
    out = Path(out)
    store = ResultStore(out / "results.h5", study, definition)   # refuses other definitions
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)

    common = {"budget": budget, "n_samples": n_samples, "symbolic_timeout": symbolic_timeout,
              "settings": settings}
    tasks = make_tasks(items, methods, noise_levels, seeds, common)
    plan = [task_key(t["dataset"], t["method"], t["noise"], t["seed"]) for t in tasks]
    if store.has("plan", group="extra"):        # every command's tasks, for the report
        old = list(store.get("plan", group="extra").get("keys", []))
        plan = old + [k for k in plan if k not in set(old)]
    store.add("plan", {"keys": plan}, group="extra")
    def log(msg: str) -> None:
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    stored = {k: store.get(k) for k in store.keys()}
    todo, changed = [], set()
    for t in tasks:
        old = stored.get(task_key(t["dataset"], t["method"], t["noise"], t["seed"]))
        if old is not None and float(old.get("noise", t["noise"])) != float(t["noise"]):
            raise InputError(f"{store.path} holds {old['noise']!r} under the key of noise "
                             f"level {t['noise']!r}; use noise levels that differ in their "
                             "first 6 digits")
        if old is None or old.get("status") not in DONE_STATUSES:
            todo.append(t)
        elif old.get("data_sha256") and t["source"].get("sha256") and \
                old["data_sha256"] != t["source"]["sha256"]:
            todo.append(t)                  # the dataset file changed since
            changed.add(t["dataset"])
    if changed:
        log(f"dataset file(s) changed since their results were stored: "
            f"{', '.join(sorted(changed))}; running their tasks again")

    skipped = len(tasks) - len(todo)
    if skipped:
        log(f"{skipped} of {len(tasks)} tasks already in {store.path}; skipping them")
    if not todo:
        return store
    client = cluster = None
    if scheduler is not None or dask_workers is not None:
        client, cluster = _connect(scheduler, dask_workers)   # fails fast when unreachable

    # methods that cannot run here: asked once, recorded for each task
    unavailable = {}
    for m in sorted({t["method"] for t in todo}):
        ok, reason = get_backend(m).available()
        if not ok:
            unavailable[m] = reason or f"{m} is not available here"
            print(f"kandiscover: method {m} is unavailable: {unavailable[m]}",
                  file=sys.stderr, flush=True)
    for t in [t for t in todo if t["method"] in unavailable]:
        key = task_key(t["dataset"], t["method"], t["noise"], t["seed"])
        store.add(key, _failure(t, "unavailable", unavailable[t["method"]], 0.0))
    todo = [t for t in todo if t["method"] not in unavailable]

    from tqdm.auto import tqdm

    counts = {"done": 0, "failed": 0, "running": 0}
    bar = tqdm(total=len(todo), desc="tasks", unit="task", disable=None if verbose else True)

    def on_progress(running: int) -> None:
        if counts["running"] != running:
            counts["running"] = running
            bar.set_postfix(counts, refresh=True)

    def on_done(spec: dict, attrs: dict) -> None:
        key = task_key(spec["dataset"], spec["method"], spec["noise"], spec["seed"])
        store.add(key, attrs)
        counts["done"] += 1
        if attrs.get("status") not in DONE_STATUSES:
            counts["failed"] += 1
        counts["running"] = max(0, counts["running"] - 1)
        bar.set_postfix(counts, refresh=False)
        bar.update(1)

    try:
        with _sigterm_interrupts():
            if client is None:
                _run_local(todo, workers, hard_timeout, on_done, on_progress)
            else:
                _run_dask(todo, client, hard_timeout, on_done, on_progress)
    finally:
        bar.close()
        if client is not None:
            client.close()
            if cluster is not None:
                cluster.close()
    if counts["failed"]:
        log(f"{counts['failed']} of {len(todo)} tasks failed or timed out (stored with their "
            "errors; a rerun retries them)")
    return store

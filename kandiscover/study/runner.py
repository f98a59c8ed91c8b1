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

import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .executors import check_address, connect, run_dask, run_local, sigterm_interrupts
from .results import ResultStore, study_folder
from .tasks import SYMBOLIC_TIMEOUT, failure, run_task, task_key

__all__ = ["run_task", "run_study", "task_key", "make_tasks", "RUNNER_VERSION", "STUDY_NAME",
           "SYMBOLIC_TIMEOUT", "DATASET_SUFFIXES"]

RUNNER_VERSION = 1
STUDY_NAME = "recovery"
DATASET_SUFFIXES = (".h5", ".hdf5", ".csv")
DONE_STATUSES = ("ok",)  # failed, timed-out and unavailable tasks are tried again


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
    if settings is not None and not (isinstance(settings, dict) and all(
            isinstance(v, dict) for v in settings.values())):
        raise InputError("settings (--settings) must map each method to a JSON object of its "
                         f"keyword arguments, got {settings!r}")
    settings = dict(settings or {})
    stray = [m for m in settings if m not in methods]
    if stray:
        raise InputError(f"settings given for {', '.join(stray)}, which is not among the "
                         f"methods {', '.join(methods)}")
    if scheduler is not None and dask_workers is not None:
        raise InputError("give either scheduler (an existing Dask cluster) or dask_workers "
                         "(a local Dask cluster), not both")
    if scheduler is not None:
        check_address(scheduler)
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
    out = study_folder(out)
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

    stored = {r["key"]: r for r in store.runs()}
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
        client, cluster = connect(scheduler, dask_workers)   # fails fast when unreachable

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
        store.add(key, failure(t, "unavailable", unavailable[t["method"]], 0.0))
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
        with sigterm_interrupts():
            if client is None:
                run_local(todo, workers, hard_timeout, on_done, on_progress)
            else:
                run_dask(todo, client, hard_timeout, on_done, on_progress)
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

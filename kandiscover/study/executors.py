"""Where study tasks run: spawned local processes, or child processes of Dask
workers, each killed at the hard timeout (the recovery studies, see
:mod:`kandiscover.study.runner`); or a pool of spawned worker processes that
receive large shared inputs once (:func:`pooled`, the pendulum study)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .._validation import check_positive
from ..errors import InputError
from .tasks import failure, run_task

__all__ = ["run_local", "run_dask", "connect", "check_address", "sigterm_interrupts",
           "die_with_parent", "pooled", "worker_shared"]

_CONNECT_TIMEOUT = 10.0
_DASK_GRACE = 60.0


def die_with_parent(parent: int | None = None) -> None:
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


def _guarded(spec: dict) -> tuple[str, dict[str, Any]]:
    """:func:`run_task` in a task's process: an exception becomes a failed result."""
    started = time.perf_counter()
    try:
        return run_task(spec)
    except BaseException as exc:  # noqa: BLE001 - reported, never lost
        return "", failure(spec, "failed", f"{type(exc).__name__}: {exc}",
                           time.perf_counter() - started)


def _died(spec: dict, exit_code: Any, wall: float, tail: str = "") -> dict[str, Any]:
    return failure(spec, "failed", f"the task's process died (exit code {exit_code}) "
                   "without a result" + (f": {tail}" if tail else ""), wall)


def _timed_out(spec: dict, hard_timeout: float, wall: float) -> dict[str, Any]:
    return failure(spec, "timeout", f"killed after the hard timeout of {hard_timeout:g} s",
                   wall)


def run_local(tasks: list[dict], workers: int, hard_timeout: float, on_done, on_progress):
    """Run each task in a spawned process of its own (nothing an earlier task
    left behind can touch it), ``workers`` at a time, killed ``hard_timeout``
    seconds after its process is up; ``on_done(spec, attrs)`` as each ends,
    ``on_progress(running)`` with the number of tasks under way."""
    def failed(job: tuple, exc: BaseException, seconds: float) -> tuple[str, dict]:
        (spec,) = job
        if isinstance(exc, TimeoutError):
            return "", _timed_out(spec, hard_timeout, seconds)
        return "", failure(spec, "failed", f"{exc}", seconds)

    left = len(tasks)
    on_progress(min(workers, left))
    for (spec,), (_, attrs) in pooled(_guarded, [(t,) for t in tasks], None, workers, failed,
                                       hard_timeout, fresh=True, torch_threads=None):
        left -= 1
        on_done(spec, attrs)
        on_progress(min(workers, left))


_SHARED: Any = None     # what the pool of pooled() started this worker process with


def worker_shared() -> Any:
    """In a worker process of :func:`pooled`: the ``shared`` it was started with."""
    return _SHARED


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (its ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


def _sendable(exc: BaseException) -> BaseException:
    """``exc``, or a RuntimeError naming it when it does not survive pickling."""
    import pickle
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _pooled_worker(fn: Callable, shared: Any, conn, parent: int,
                   torch_threads: int | None) -> None:  # a spawned process
    """Say ``("ready", None)`` once started, then run the jobs sent on ``conn`` one
    at a time until ``None`` or the pipe closes, answering each with ``("done",
    result)`` or ``("raised", (exception, traceback text))``."""
    import traceback

    die_with_parent(parent)     # no orphan left working when the parent is killed
    global _SHARED
    _SHARED = shared
    if torch_threads is not None:
        import torch
        torch.set_num_threads(torch_threads)
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            answer = ("done", fn(*job))
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, raised there
            answer = ("raised", (_sendable(exc), traceback.format_exc()))
        try:
            conn.send(answer)
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle is a bug
            conn.send(("raised", (RuntimeError(f"the job's result could not be sent "
                                               f"back: {type(exc).__name__}: {exc}"),
                                  traceback.format_exc())))


class _Worker:
    """A process of :func:`pooled`, its end of the pipe, and the job it runs."""

    def __init__(self, ctx, fn: Callable, shared: Any, torch_threads: int | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_pooled_worker,
                                args=(fn, shared, child, os.getpid(), torch_threads),
                                daemon=True)
        self.proc.start()
        child.close()
        self.job: tuple | None = None
        self.ready = False          # the process is up (its start is not timed)
        #: when the job was handed over, or the process ready (or started)
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def give(self, job: tuple) -> bool:
        """Hand ``job`` over; False when the process is gone."""
        try:
            self.conn.send(job)
        except (OSError, ValueError):
            return False
        self.job, self.started = job, time.perf_counter()
        return True

    def stop(self, kill: bool) -> int | None:
        """End the process (at once with ``kill``, else when it has finished its
        job); return its exit code."""
        if not kill:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        return self.proc.exitcode


def pooled(fn: Callable, jobs: list[tuple], shared: Any, workers: int, failed: Callable,
           timeout: float | None = None, fresh: bool = False,
           torch_threads: int | None = 1):
    """Yield ``(job, fn(*job))`` as the jobs finish, ``workers`` at a time.

    The jobs run in spawned worker processes on ``torch_threads`` torch threads
    each (None: torch's default), each process started once with ``shared``
    (large inputs sent once per process, not per job; ``fn`` reads them with
    :func:`worker_shared`) and given one job after another, or, with ``fresh``,
    ended after one job (nothing a job leaves behind can touch the next).
    ``fn`` turns the failures it expects into failed results itself.  A job
    whose process dies (killed for memory, say) gives ``failed(job,
    ChildProcessError(...), seconds)``, and one still running ``timeout``
    seconds after it was handed over (None: no limit; for a fresh process, from
    when it is ready) has its process killed and gives ``failed(job,
    TimeoutError(...), seconds)``, ``seconds`` being how long it ran; either
    way a fresh process takes the next job, and the other jobs are not touched
    (a result that has arrived is kept, however late: the clock is read every
    half second).  Any other exception raised by ``fn`` is a bug and propagates
    (the results yielded before it are kept; the worker's traceback is its
    ``__cause__``).  Leaving early, or an exception, kills the running jobs.  A
    process with no job left to take ends at once.

    With ``workers == 1`` and not ``fresh`` the jobs run here, one after
    another, ``fn`` getting ``shared`` as its last argument; there is no timeout
    then (nothing to kill).
    """
    import multiprocessing
    from multiprocessing.connection import wait

    if timeout is not None:
        timeout = check_positive(timeout, "timeout")
    if workers == 1 and not fresh:
        for job in jobs:
            yield job, fn(*job, shared)
        return
    ctx = multiprocessing.get_context("spawn")
    queue = list(jobs)[::-1]
    idle: list[_Worker] = []
    busy: dict[Any, _Worker] = {}              # conn -> worker running a job
    finished = False
    try:
        while queue or busy:
            while queue and len(busy) < workers:
                worker = idle.pop() if idle else _Worker(ctx, fn, shared, torch_threads)
                if worker.give(queue[-1]):
                    queue.pop()
                    busy[worker.conn] = worker
                else:                           # died while idle: replace it
                    worker.stop(kill=True)
            for conn in wait(list(busy), timeout=0.5):
                worker = busy.pop(conn)
                job = worker.job
                try:
                    what, value = conn.recv()
                except (EOFError, OSError):
                    seconds, code = worker.elapsed(), worker.stop(kill=True)
                    yield job, failed(job, ChildProcessError(
                        f"the job's process died (exit code {code}) without a result"),
                        seconds)
                    continue
                if what == "ready":         # the clock starts once the process is up
                    worker.ready, worker.started = True, time.perf_counter()
                    busy[conn] = worker
                    continue
                if what == "raised":
                    exc, tb = value
                    raise exc from _RemoteTraceback(tb)
                if queue and not fresh:
                    idle.append(worker)
                else:                       # nothing left for it: free its memory
                    worker.stop(kill=False)
                yield job, value
            now = time.perf_counter()
            for conn, worker in list(busy.items()):
                if timeout is not None and worker.ready and now - worker.started > timeout:
                    del busy[conn]
                    worker.stop(kill=True)
                    yield worker.job, failed(worker.job, TimeoutError(
                        f"killed after the timeout of {timeout:g} s"), now - worker.started)
        finished = True
    finally:
        for worker in idle:
            worker.stop(kill=not finished)
        for worker in busy.values():
            worker.stop(kill=True)


def _isolated_main(parent: int) -> None:   # ``python -c`` entry of a Dask task's process
    import pickle

    die_with_parent(parent)
    spec = pickle.load(sys.stdin.buffer)
    result_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)             # the methods' prints go to stderr; stdout carries the result
    pickle.dump(_guarded(spec), result_out)
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
            "from kandiscover.study.executors import _isolated_main; "
            f"_isolated_main({os.getpid()})")
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
        return "", _timed_out(spec, hard_timeout, time.perf_counter() - started)
    try:
        return pickle.loads(out)
    except Exception:  # noqa: BLE001 - no result: the process died
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        return "", _died(spec, proc.returncode, time.perf_counter() - started, tail)


def check_address(address: str) -> None:
    if not isinstance(address, str) or not re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d+", address):
        raise InputError(f"scheduler must be an address such as tcp://HOST:PORT, "
                         f"got {address!r}")


def connect(scheduler: str | None, dask_workers: int | None):
    """(client, cluster or None) for the Dask executor."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InputError(f"the Dask executor needs dask.distributed ({exc}); "
                         "pip install 'dask[distributed]'") from None
    if scheduler is not None:
        check_address(scheduler)
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


def run_dask(tasks: list[dict], client, hard_timeout: float, on_done, on_progress):
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
                    _, attrs = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                    attrs = failure(spec, "failed", f"{type(exc).__name__}: {exc}",
                                     time.perf_counter() - t0)
                on_done(spec, attrs)
            now = time.perf_counter()
            for fut, (spec, t0) in list(running.items()):
                # the worker kills the task's process at hard_timeout; this catches a
                # worker that hangs or vanishes without reporting
                if now - t0 > hard_timeout + _DASK_GRACE:
                    fut.cancel()
                    del running[fut]
                    on_done(spec, failure(spec, "timeout", f"no answer from the Dask "
                                           f"worker {_DASK_GRACE:g} s after the hard "
                                           f"timeout of {hard_timeout:g} s", now - t0))
    finally:
        for fut in running:
            fut.cancel()


@contextlib.contextmanager
def sigterm_interrupts():
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

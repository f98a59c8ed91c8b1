"""A time limit for a block of pure-Python work (sympy), nestable.

sympy has no timeout of its own and ``simplify`` can run for minutes on
some expressions.  :func:`time_limit` interrupts the block with ``SIGPROF``
once the process has used ``seconds`` of CPU time (so a busy machine does
not change the outcome, only a slower one does); it works on Unix in the
main thread only, and is a no-op
elsewhere (a Dask worker thread, Windows).  The study runner executes every
task in the main thread of its own process, so the limits apply there.

Limits nest: an inner limit never extends an outer one, and the outer
timer resumes with the time it had left when the inner block ends.  The
alarm repeats every ``_REPEAT`` seconds until the block is left, so code that
swallows the first exception (``except Exception`` inside a library) is
interrupted again.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Callable, Iterator, TypeVar

__all__ = ["time_limit", "call_with_limit", "TimeLimitExceeded", "past"]

T = TypeVar("T")

_REPEAT = 0.25
# CPU time of this process (ITIMER_PROF, delivered as SIGPROF), not wall time:
# a busy machine then does not change which expressions get simplified
_TIMER = getattr(signal, "ITIMER_PROF", None)
_SIGNAL = getattr(signal, "SIGPROF", None)


class TimeLimitExceeded(Exception):
    """The block ran past its time limit."""


def _usable() -> bool:
    return _TIMER is not None and _SIGNAL is not None \
        and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, error: type[Exception] = TimeLimitExceeded,
               message: str | None = None) -> Iterator[None]:
    """Raise ``error(message)`` in the block once it has used ``seconds`` of CPU time.

    ``seconds=None`` (or a thread other than the main one) means no limit.
    """
    if seconds is None or not _usable():
        yield
        return
    seconds = max(float(seconds), 1e-3)
    outer_left, outer_interval = signal.getitimer(_TIMER)
    if outer_left and outer_left <= seconds:
        yield                     # the outer limit fires first: leave it in charge
        return
    text = message or f"ran longer than {seconds:g} s"
    state = {"active": True}

    def on_alarm(signum, frame):
        if state["active"]:
            raise error(text)

    start = time.process_time()
    old = signal.signal(_SIGNAL, on_alarm)
    signal.setitimer(_TIMER, seconds, _REPEAT)
    try:
        yield
    finally:
        state["active"] = False
        signal.setitimer(_TIMER, 0)
        signal.signal(_SIGNAL, signal.SIG_DFL if old is None else old)
        if outer_left:
            left = outer_left - (time.process_time() - start)
            signal.setitimer(_TIMER, max(left, 1e-3), outer_interval)


def call_with_limit(fn: Callable[[], T], seconds: float | None) -> tuple[bool, T | None]:
    """``(True, fn())``, or ``(False, None)`` when ``fn`` ran past ``seconds``.

    Only this call's own limit is caught: an enclosing :func:`time_limit`
    that fires meanwhile still raises its error."""

    class _Own(TimeLimitExceeded):
        pass

    try:
        with time_limit(seconds, _Own):
            return True, fn()
    except _Own:
        return False, None


def past(deadline: float | None) -> bool:
    """Whether ``deadline`` (a ``time.perf_counter()`` value; None: none) has passed."""
    return deadline is not None and time.perf_counter() > deadline

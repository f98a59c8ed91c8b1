"""A time limit for a block of pure-Python work (sympy), nestable.

sympy has no timeout of its own and ``simplify`` can run for minutes on
some expressions.  :func:`time_limit` interrupts the block with ``SIGALRM``;
it therefore works on Unix in the main thread only, and is a no-op
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

__all__ = ["time_limit", "call_with_limit", "TimeLimitExceeded"]

T = TypeVar("T")

_REPEAT = 0.25


class TimeLimitExceeded(Exception):
    """The block ran past its time limit."""


def _usable() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, error: type[Exception] = TimeLimitExceeded,
               message: str | None = None) -> Iterator[None]:
    """Raise ``error(message)`` in the block once it has run ``seconds``.

    ``seconds=None`` (or a thread other than the main one) means no limit.
    """
    if seconds is None or not _usable():
        yield
        return
    seconds = max(float(seconds), 1e-3)
    outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield                     # the outer limit fires first: leave it in charge
        return
    text = message or f"ran longer than {seconds:g} s"
    state = {"active": True}

    def on_alarm(signum, frame):
        if state["active"]:
            raise error(text)

    start = time.monotonic()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
    try:
        yield
    finally:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if old is None else old)
        if outer_left:
            left = outer_left - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


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

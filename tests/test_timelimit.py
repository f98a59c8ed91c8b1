"""The nestable CPU-time limit used to bound sympy, and the regressor's budget."""

import threading
import time

import numpy as np
import pytest

from kandiscover._timelimit import TimeLimitExceeded, call_with_limit, time_limit


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def test_block_is_interrupted():
    t = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="0.2"):
        with time_limit(0.2):
            _spin(5)
    assert time.monotonic() - t < 2


def test_swallowed_alarm_fires_again():
    """A library's ``except Exception`` does not defeat the limit."""
    def stubborn():
        try:
            _spin(5)
        except Exception:  # noqa: BLE001 - what some library code does
            pass
        _spin(5)
    t = time.monotonic()
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            stubborn()
    assert time.monotonic() - t < 3


def test_call_with_limit_returns_value_or_gives_up():
    assert call_with_limit(lambda: _spin(0.01), 5) == (True, "done")
    assert call_with_limit(lambda: _spin(5), 0.2) == (False, None)


def test_inner_limit_does_not_hide_or_extend_outer():
    class Outer(TimeLimitExceeded):
        pass
    t = time.monotonic()
    with pytest.raises(Outer):
        with time_limit(0.3, Outer):
            # the inner limit is longer than what the outer has left: the outer fires
            call_with_limit(lambda: _spin(5), 10)
    assert time.monotonic() - t < 2
    # a short inner limit ends first; the outer timer then resumes with its rest
    t = time.monotonic()
    with pytest.raises(Outer):
        with time_limit(0.6, Outer):
            assert call_with_limit(lambda: _spin(5), 0.1) == (False, None)
            _spin(5)
    assert 0.4 < time.monotonic() - t < 2


def test_no_limit_outside_main_thread_and_none():
    out = []
    th = threading.Thread(target=lambda: out.append(call_with_limit(lambda: _spin(0.3), 0.05)))
    th.start()
    th.join()
    assert out == [(True, "done")]
    assert call_with_limit(lambda: 7, None) == (True, 7)


def test_no_timer_left_behind():
    import signal
    with time_limit(5):
        pass
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_spent_budget_stops_after_first_structure():
    """With the budget spent, the regressor reads the first structure only."""
    from kandiscover import KANRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = np.sin(2 * X[:, 0]) * X[:, 1] + 0.3 * X[:, 1] ** 2
    reg = KANRegressor(grid_schedule=(3,), steps=3, time_budget=1e-6, verbose=False,
                       seed=0).fit(X, y)
    assert {tuple(map(str, c.width)) for c in reg.candidates_} == {("2", "1")}
    assert np.isfinite(reg.predict(X)).all()


def test_limit_counts_cpu_time_not_sleep():
    with time_limit(0.3):
        time.sleep(0.6)          # sleeping uses no CPU: no interruption
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.3):
            _spin(5)

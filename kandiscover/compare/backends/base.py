"""The contract every symbolic-regression method fulfils (kan, operon, pysr).

A backend is a function ``run(X_train, y_train, variables, time_budget, seed)
-> SRResult``: it searches for a formula within ``time_budget`` seconds (wall
clock, one thread) and returns the chosen expression with its Pareto front.
Backends are registered by name in :data:`BACKENDS` (filled lazily by
:func:`get_backend`), so a study names them as strings and heavy imports
(pyoperon, PySR's Julia) happen only when a method is used.

A backend that cannot run on this machine raises :class:`BackendUnavailable`
with the reason (for instance "PySR: the Julia runtime could not start: ..."),
from :func:`Backend.available` or from ``run`` itself; studies record the
reason instead of crashing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from ...errors import InputError, KandiscoverError
from ..metrics import complexity, r2_score

__all__ = ["SRResult", "ParetoEntry", "Backend", "BackendUnavailable", "BACKENDS", "finish",
           "register_backend", "get_backend", "backend_names", "validate_inputs"]


class BackendUnavailable(KandiscoverError, RuntimeError):
    """The method cannot run here; the message says why."""


@dataclass
class ParetoEntry:
    """One formula of a Pareto front (PySR's ``equations_`` columns)."""

    complexity: int
    loss: float
    expression: sympy.Expr


@dataclass
class SRResult:
    """What a backend returns.

    ``expression`` is the chosen formula over sympy Symbols named as the
    variables; ``complexity`` counts its sympy tree nodes (SRBench);
    ``pareto`` lists the front from simplest to most complex; ``train_r2`` is
    the chosen formula's R^2 on the training data; ``seconds`` the wall time
    of the search; ``raw`` whatever the method printed or returned that is
    worth keeping (JSON-able: strings, numbers, lists, dicts).
    """

    method: str
    expression: sympy.Expr
    complexity: int
    pareto: list[ParetoEntry]
    train_r2: float
    seconds: float
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Backend:
    """A named method: ``run`` does the search, ``available`` says whether it
    can run here as ``(ok, reason)``."""

    name: str
    run: Callable[..., SRResult]
    available: Callable[[], tuple[bool, str]] = lambda: (True, "")


BACKENDS: dict[str, str] = {
    "kan": "kandiscover.compare.backends.kan",
    "operon": "kandiscover.compare.backends.operon",
    "pysr": "kandiscover.compare.backends.pysr",
}
_LOADED: dict[str, Backend] = {}


def register_backend(backend: Backend) -> None:
    """Add (or replace) a backend under its name."""
    _LOADED[backend.name] = backend
    BACKENDS.setdefault(backend.name, "")


def backend_names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (imports its module on first use)."""
    if name in _LOADED:
        return _LOADED[name]
    if name not in BACKENDS:
        raise InputError(f"unknown method {name!r}; the methods are {', '.join(BACKENDS)}")
    import importlib
    module = importlib.import_module(BACKENDS[name])
    backend = module.BACKEND
    _LOADED[name] = backend
    return backend


def validate_inputs(X: Any, y: Any, variables: Sequence[str], time_budget: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The checks every backend applies at its boundary."""
    from ..._validation import check_int, check_positive, check_Xy

    Xa, ya = check_Xy(X, y)
    variables = list(variables)
    if len(variables) != Xa.shape[1]:
        raise InputError(f"{len(variables)} variable names for {Xa.shape[1]} columns of X")
    bad = [v for v in variables if not (isinstance(v, str) and v.isidentifier())]
    if bad:
        raise InputError(f"variable names must be identifiers, got {bad}")
    check_positive(time_budget, "time budget")
    check_int(seed, "seed", 0)
    return Xa, ya.reshape(-1), variables


def finish(method: str, expr: sympy.Expr, pareto: list[ParetoEntry], X: np.ndarray,
           y: np.ndarray, variables: Sequence[str], started: float,
           raw: dict[str, Any] | None = None) -> SRResult:
    """Build the :class:`SRResult` of a chosen expression (R^2, complexity, time)."""
    from ...symbolic.export import to_numpy

    try:
        pred = np.asarray(to_numpy(expr, list(variables))(X), dtype=float)
        pred = np.broadcast_to(pred, y.shape)
        r2 = r2_score(y, pred) if np.isfinite(pred).all() else float("nan")
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        r2 = float("nan")
    return SRResult(method, expr, complexity(expr), pareto, r2, time.perf_counter() - started,
                    dict(raw or {}))

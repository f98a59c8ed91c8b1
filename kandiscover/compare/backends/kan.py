"""The ``kan`` method: the project's own pipeline, :class:`kandiscover.KANRegressor`.

:func:`run` fits a ``KANRegressor(seed=seed, time_budget=time_budget,
verbose=False)`` on one torch thread (the process's thread count is restored
afterwards) and returns its chosen formula with the Pareto front of its
``equations_`` table.

Time budget
-----------
``KANRegressor``'s budget is kept between training stages: once it is spent,
no new candidate structure starts, a structure in training is abandoned at
its next stage, the fine-tuning of its symbolic edges stops (keeping the best
parameters it has evaluated, and skipping the Occam pass) and the sparser
readings stop; the first structure that gives a formula always finishes.
``seconds`` in the result is the wall time of the whole call, which can
exceed the budget by about one training stage and the formula reading of one
structure (sympy's simplification is capped at 5 s per expression).

Determinism
-----------
Training uses its own generators seeded from ``seed`` on one thread, so the
same seed and data give the same formula on the same machine, unless the
budget cuts the search at a different structure (which needs the budget to
run out between structures).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ...errors import InputError
from .base import Backend, ParetoEntry, finish, validate_inputs

__all__ = ["BACKEND", "run"]

#: Set by the contract; not to be replaced through keyword arguments.
_FIXED = ("seed", "time_budget", "verbose")


def _mse(expr, X: np.ndarray, y: np.ndarray, variables: list[str]) -> float:
    from ...symbolic.export import to_numpy

    with np.errstate(all="ignore"):
        pred = np.broadcast_to(np.asarray(to_numpy(expr, variables)(X), float), y.shape)
    return float(np.mean((pred - y) ** 2)) if np.isfinite(pred).all() else float("inf")


def run(X_train: Any, y_train: Any, variables: Sequence[str], time_budget: float,
        seed: int, **settings: Any):
    """Search for a formula with the KAN pipeline.

    Parameters
    ----------
    X_train, y_train, variables : as in the contract (:mod:`.base`)
    time_budget : seconds (> 0) after which no new candidate structure starts
    seed : int >= 0
    **settings : other :class:`~kandiscover.KANRegressor` parameters
        (``width``, ``steps``, ``grid_schedule``, ``library``, ...);
        ``seed``, ``time_budget`` and ``verbose`` are fixed

    Returns
    -------
    SRResult
        ``expression`` is the regressor's chosen formula; ``pareto`` lists
        its ``equations_`` front, simplest first, each formula with its
        sympy node count and its MSE on all the training rows (the
        regressor itself ranks them on the 20 % it holds out); ``raw``
        holds ``structure`` (the chosen width, e.g. ``"[2, 1]"``),
        ``equations`` (the front as text), ``validation_mse`` (the
        regressor's held-out losses, same order) and ``candidates`` (how
        many formulas were read).

    Raises
    ------
    InputError : bad data, names, budget, seed or settings (and a constant y)
    TrainingError : no candidate structure gave a finite formula
    """
    from ...estimator import KANRegressor
    from ...kan.train import torch_threads

    X, y, variables = validate_inputs(X_train, y_train, variables, time_budget, seed)
    fixed = sorted(k for k in settings if k in _FIXED)
    if fixed:
        raise InputError(f"the KAN settings {', '.join(fixed)} are set by the method; "
                         "leave them out")
    known = set(KANRegressor().get_params())
    unknown = sorted(k for k in settings if k not in known)
    if unknown:
        raise InputError(f"unknown KAN setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(sorted(known - set(_FIXED)))}")
    reg = KANRegressor(**settings, seed=seed, time_budget=float(time_budget), verbose=False)
    started = time.perf_counter()

    with torch_threads(1):
        reg.fit(X, y, variable_names=variables)
        table = reg.equations_   # reads the sparser formulas left for later

    pareto = [ParetoEntry(int(row.complexity), _mse(row.sympy_format, X, y, variables),
                          row.sympy_format)
              for row in table.itertuples(index=False)]
    pareto.sort(key=lambda e: e.complexity)
    raw = {
        "structure": str(reg.width_),
        "equations": [str(e) for e in table["equation"]],
        "validation_mse": [float(v) for v in table["loss"]],
        "candidates": len(reg.candidates_),
    }
    return finish("kan", reg.sympy(), pareto, X, y, variables, started, raw)


BACKEND = Backend("kan", run)

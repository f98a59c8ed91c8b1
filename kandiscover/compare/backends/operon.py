r"""The ``operon`` method: genetic-programming symbolic regression with pyoperon.

:func:`run` fits :class:`pyoperon.sklearn.SymbolicRegressor` within the time
budget on one thread, reads every formula of its final Pareto front with the
project's safe parser, and returns the formula Operon selects.

Settings (SRBench)
------------------
The defaults follow the Operon entry of SRBench (cavalab/srbench,
``experiment/methods/operon/regressor.py``, the current entry, which
replaced ``experiment/methods/OperonRegressor.py`` of the 2021 paper):

* ``objectives=["r2", "length"]`` (NSGA-II: accuracy and size, so there is a
  real Pareto front), ``model_selection_criterion="minimum_description_length"``
  with ``uncertainty=[sigma]``, where sigma is the in-sample RMSE of a random
  forest on the training data (SRBench's ``compute_sigma``; here with
  ``random_state=seed`` and one job, on at most 10,000 rows);
* ``population_size=1000``, ``pool_size=None``, ``max_evaluations=10**6``,
  ``optimizer_iterations=1`` (Levenberg-Marquardt; the constants are
  Lamarckian, so they keep improving across generations),
  ``offspring_generator="basic"``, ``initialization_method="btc"``,
  ``reinserter="keep-best"``, tournament selection for both parents,
  ``brood_size=5``, ``epsilon=1e-5``;
* SRBench tunes ``allowed_symbols`` and ``max_length`` (10 to 50) with Optuna
  inside its budget; here they are fixed to the largest of its symbol sets,
  ``add,sub,mul,div,sin,cos,exp,log,sqrt,pow,constant,variable``, and
  ``max_length=50``.  Optuna's repeated fits would leave little of a
  one-minute budget to each search.

The contract fixes ``max_time`` (the budget in whole seconds, rounded down,
at least 1: pyoperon takes an int), ``n_threads=1`` and
``random_state=seed``.  The noise estimate (about 0.3 s on 1,000 rows of 5
variables, 2.5 s on 7,500) and reading the front come on top of
``max_time``; ``seconds`` in the result counts them.  Keyword arguments of :func:`run` replace the
other settings (``generations=20`` for a short run that repeats exactly).

Reading the formulas
--------------------
Each tree is printed with 60 decimals and read by
:func:`kandiscover.compare.last_step_sr.formula_from_operon_text` (numbers
shortened to their float32 value, ``^`` as a power, the safe parser
:func:`kandiscover.symbolic.parse.parse_formula`; variables go through
placeholders ``x0, x1, ...``).  The chosen formula must then reproduce
Operon's own (float32) predictions on the training rows
(:func:`~kandiscover.compare.last_step_sr.check_reproduces`), or
:class:`~kandiscover.compare.last_step_sr.FormulaMismatchError` is raised.
The other formulas of the front are only parsed (checking each one costs
about 0.1 s, and a front holds up to ``max_length`` formulas); one the
parser refuses is left out and listed in ``raw["dropped"]``.  Their losses
are Operon's own training MSE.

Determinism
-----------
A run stopped by the clock (the usual case) is not repeatable in general:
how many generations fit into the budget depends on the machine's load.  A
run stopped by ``generations`` (or ``max_evaluations``) with the same seed
repeats exactly.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Sequence

import numpy as np
import sympy

from ...errors import InputError, InputTypeError
from ..last_step_sr import (PARSEABLE_SYMBOLS, FormulaMismatchError, check_reproduces,
                            formula_from_operon_text)
from ..metrics import complexity
from .base import Backend, BackendUnavailable, ParetoEntry, finish, validate_inputs

__all__ = ["BACKEND", "run", "SRBENCH_SETTINGS", "available"]

#: SymbolicRegressor settings of SRBench's Operon entry (see the module text).
SRBENCH_SETTINGS: dict[str, Any] = {
    "allowed_symbols": "add,sub,mul,div,sin,cos,exp,log,sqrt,pow,constant,variable",
    "max_length": 50,
    "objectives": ["r2", "length"],
    "model_selection_criterion": "minimum_description_length",
    "population_size": 1000,
    "pool_size": None,
    "max_evaluations": 1_000_000,
    "optimizer_iterations": 1,
    "offspring_generator": "basic",
    "initialization_method": "btc",
    "reinserter": "keep-best",
    "female_selector": "tournament",
    "male_selector": "tournament",
    "brood_size": 5,
    "epsilon": 1e-5,
}
#: Set by the contract; not to be replaced through keyword arguments.
_FIXED = ("max_time", "n_threads", "random_state", "uncertainty", "warm_start")
#: Decimals of the printed trees (float32 reaches 1e-45; the numbers are then
#: shortened to their float32 value, as in last_step_sr).
_PRECISION = 60
#: Rows used to estimate the noise level sigma for the MDL criterion.
_SIGMA_ROWS = 10_000


def available() -> tuple[bool, str]:
    """Whether pyoperon imports here, as ``(ok, reason)``."""
    try:
        import pyoperon.sklearn  # noqa: F401
    except ImportError as exc:
        return False, f"Operon: pyoperon cannot be imported ({exc}); pip install pyoperon"
    return True, ""


def _settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """SRBench's settings with ``overrides`` applied and checked."""
    from pyoperon.sklearn import SymbolicRegressor

    known = set(SymbolicRegressor().get_params())
    fixed = sorted(k for k in overrides if k in _FIXED)
    if fixed:
        raise InputError(f"the Operon settings {', '.join(fixed)} are set by the method "
                         "(time budget, one thread, seed, noise estimate); leave them out")
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise InputError(f"unknown Operon setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(sorted(known - set(_FIXED)))}")
    settings = {**SRBENCH_SETTINGS, **overrides}
    symbols = settings["allowed_symbols"]
    if not isinstance(symbols, str):
        raise InputTypeError("allowed_symbols must be a comma-separated string such as "
                             f"{SRBENCH_SETTINGS['allowed_symbols']!r}, got {symbols!r}")
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    unreadable = [s for s in names if s not in PARSEABLE_SYMBOLS]
    if unreadable:
        raise InputError(f"allowed_symbols has {', '.join(map(repr, unreadable))}, whose "
                         "printed form the formula parser cannot read back; choose from "
                         f"{', '.join(sorted(PARSEABLE_SYMBOLS))}")
    if "variable" not in names:
        raise InputError("allowed_symbols must include 'variable'")
    settings["allowed_symbols"] = ",".join(names)
    return settings


def _noise_sigma(X: np.ndarray, y: np.ndarray, seed: int) -> float:
    """SRBench's noise estimate: the in-sample RMSE of a random forest
    (at least 1e-6 of the spread of y, so that MDL stays finite)."""
    from sklearn.ensemble import RandomForestRegressor

    rows = np.arange(len(y))
    if len(rows) > _SIGMA_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), _SIGMA_ROWS, replace=False))
    rf = RandomForestRegressor(random_state=seed, n_jobs=1).fit(X[rows], y[rows])
    sigma = float(np.sqrt(np.mean((rf.predict(X[rows]) - y[rows]) ** 2)))
    floor = max(1e-6 * float(np.std(y)), 1e-12)
    return sigma if np.isfinite(sigma) and sigma > floor else floor


def _read(reg: Any, tree: Any, variables: list[str], placeholders: list[str]
          ) -> tuple[sympy.Expr, str]:
    """One Operon tree as a sympy formula over ``variables``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Model contains no variables" for constants
        text = reg.get_model_string(tree, _PRECISION, placeholders)
    try:
        expr = formula_from_operon_text(text, placeholders, variables)
    except InputError as exc:  # the safe parser refused Operon's text: not a user error
        raise FormulaMismatchError(f"Operon's model could not be read: {exc}; "
                                   f"Operon's text: {text[:300]}") from None
    return expr, text


def _front(entries: list[ParetoEntry]) -> list[ParetoEntry]:
    """Non-dominated entries by (complexity, loss), simplest first."""
    out: list[ParetoEntry] = []
    for e in sorted(entries, key=lambda e: (e.complexity, e.loss)):
        if not out or e.loss < out[-1].loss:
            out.append(e)
    return out


def run(X_train: Any, y_train: Any, variables: Sequence[str], time_budget: float,
        seed: int, **settings: Any):
    """Search for a formula with Operon.

    Parameters
    ----------
    X_train, y_train, variables : as in the contract (:mod:`.base`)
    time_budget : seconds (> 0) of Operon search (``max_time``: rounded down
        to whole seconds, at least 1)
    seed : int >= 0, Operon's ``random_state`` and the forest's seed
    **settings : replace SRBench's SymbolicRegressor settings
        (:data:`SRBENCH_SETTINGS`), e.g. ``generations=20``; ``max_time``,
        ``n_threads``, ``random_state`` and ``uncertainty`` are fixed

    Returns
    -------
    SRResult
        ``expression`` is the formula Operon selects by minimum description
        length; ``pareto`` lists Operon's final front of (r2, length), each
        formula with its sympy node count and its MSE on the training rows
        (as Operon computes it, in float32), dominated entries (after the
        recount) left out; ``raw`` holds
        ``model_string`` (Operon's text of the chosen model, 6 decimals),
        ``generations``, ``evaluations`` (Operon's evaluator call count;
        0 with several objectives in pyoperon 0.6.2, where
        ``residual_evaluations`` counts the work), ``jacobian_evaluations``,
        ``sigma``, ``max_time``, ``dropped`` (Pareto formulas the parser
        refused) and ``check_rel_diff`` (largest relative difference between
        the chosen formula and Operon's predictions).

    Raises
    ------
    InputError : bad data, names, budget, seed or settings
    BackendUnavailable : pyoperon cannot be imported
    FormulaMismatchError : the chosen model could not be read back exactly
    """
    X, y, variables = validate_inputs(X_train, y_train, variables, time_budget, seed)
    ok, reason = available()
    if not ok:
        raise BackendUnavailable(reason)
    import sklearn.ensemble  # noqa: F401  (imported before the clock starts)
    from pyoperon.sklearn import SymbolicRegressor

    params = _settings(settings)
    started = time.perf_counter()
    sigma = _noise_sigma(X, y, seed)
    max_time = max(1, int(math.floor(float(time_budget))))
    reg = SymbolicRegressor(**params, max_time=max_time, n_threads=1, random_state=seed,
                            uncertainty=[sigma])
    reg.fit(X, y)

    placeholders = [f"x{i}" for i in range(X.shape[1])]
    chosen, text = _read(reg, reg.model_, variables, placeholders)
    check = check_reproduces(chosen, variables, X, reg.predict(X), text=text)
    entries, dropped = [], []
    for member in reg.pareto_front_:
        if member["tree"] is reg.model_:
            expr = chosen
        else:
            try:
                expr, _ = _read(reg, member["tree"], variables, placeholders)
            except FormulaMismatchError as exc:
                dropped.append(str(exc)[:300])
                continue
        # Operon's MSE of the (linearly scaled) tree on the training rows
        loss = float(member["mean_squared_error"])
        entries.append(ParetoEntry(complexity(expr), loss if np.isfinite(loss) else math.inf,
                                   expr))

    stats = reg.stats_
    raw = {
        "model_string": reg.get_model_string(reg.model_, 6, variables),
        "generations": int(stats["generations"]),
        "evaluations": int(stats["evaluation_count"]),
        "residual_evaluations": int(stats["residual_evaluations"]),
        "jacobian_evaluations": int(stats["jacobian_evaluations"]),
        "sigma": sigma,
        "max_time": max_time,
        "dropped": dropped,
        "check_rel_diff": check["rel_diff"],
    }
    return finish("operon", chosen, _front(entries), X, y, variables, started, raw)


BACKEND = Backend("operon", run, available)

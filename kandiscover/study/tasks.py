"""One recovery task: its key, its data, and :func:`run_task` (the protocol and
the result schema are in :mod:`kandiscover.study.runner`)."""

from __future__ import annotations

import csv
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["task_key", "run_task", "failure", "SYMBOLIC_TIMEOUT"]

SYMBOLIC_TIMEOUT = 30.0


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
    schema in :mod:`kandiscover.study.runner`.
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



def failure(spec: dict, status: str, error: str, wall: float) -> dict[str, Any]:
    """The stored attributes of a task that produced no result."""
    attrs = _blank(spec)
    attrs.update(status=status, error=error, wall_seconds=float(wall))
    return attrs

"""One discovery run on a table: fit :class:`~kandiscover.KANRegressor` on
part of the rows, score the formula on the rest, and report it as text,
JSON and pictures.  The ``kandiscover discover`` command and the demo use it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import sympy

from ..errors import InputError

__all__ = ["Discovery", "discover", "plot_fit", "MIN_ROWS_FOR_TEST"]

#: below this many rows every row trains the model and no test R^2 is given
MIN_ROWS_FOR_TEST = 20


@dataclass
class Discovery:
    """What a discovery run found."""

    expression: sympy.Expr
    latex: str
    r2_test: float | None          # None: too few rows for a held-out test set
    complexity: int
    seconds: float
    pareto: list[dict]             # complexity, loss, equation, latex, chosen
    variables: list[str]
    target: str
    regressor: Any = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """The JSON-ready summary."""
        return {"target": self.target, "variables": list(self.variables),
                "expression": str(self.expression), "latex": self.latex,
                "r2_test": self.r2_test, "complexity": self.complexity,
                "seconds": round(self.seconds, 3), "pareto": self.pareto}

    def summary(self) -> str:
        r2 = ("n/a (fewer than %d rows: no test split)" % MIN_ROWS_FOR_TEST
              if self.r2_test is None else f"{self.r2_test:.6f}")
        return "\n".join([
            f"{self.target} = {self.expression}",
            f"LaTeX:      {self.latex}",
            f"test R^2:   {r2}",
            f"complexity: {self.complexity}",
            f"time:       {self.seconds:.1f} s",
        ])

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` to ``path`` atomically."""
        from ..data.store import atomic_path
        path = Path(path)
        with atomic_path(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    def plot(self, path: str | os.PathLike) -> Path:
        """Measured against predicted on the test rows, with the formula."""
        return plot_fit(self.y_test, self.regressor.predict(self.X_test), path,
                        latex=self.latex, target=self.target, r2=self.r2_test)


def discover(X: Any, y: Any, variables: Sequence[str] | None = None, *,
             target: str = "y", time_budget: float | None = None, seed: int = 0,
             test_size: float = 0.25, verbose: bool = True, **params) -> Discovery:
    """Split the rows (``test_size`` held out, seeded), fit a
    :class:`~kandiscover.KANRegressor` (``params`` go to it) on the rest and
    score its formula on the held-out rows."""
    from sklearn.model_selection import train_test_split

    from .._validation import as_2d_array
    from ..compare.metrics import complexity, r2_score
    from ..estimator import KANRegressor
    from ..symbolic.export import to_latex

    Xa = as_2d_array(X, "X")
    ya = as_2d_array(y, "y")
    if ya.shape[1] != 1:
        raise InputError(f"y must be one column of targets, got shape {ya.shape}")
    ya = ya[:, 0]
    if len(ya) != len(Xa):
        raise InputError(f"X and y have different numbers of rows: {len(Xa)} and {len(ya)}")
    if variables is None:
        variables = [f"x{i}" for i in range(Xa.shape[1])]
    if len(Xa) >= MIN_ROWS_FOR_TEST:
        Xtr, Xte, ytr, yte = train_test_split(Xa, ya, test_size=test_size, random_state=seed)
    else:
        Xtr, ytr, Xte, yte = Xa, ya, Xa, ya
    reg = KANRegressor(seed=seed, time_budget=time_budget, verbose=verbose, **params)
    reg.fit(Xtr, ytr, variable_names=list(variables))
    r2 = float(r2_score(yte, reg.predict(Xte))) if len(Xa) >= MIN_ROWS_FOR_TEST else None
    if r2 is not None and not math.isfinite(r2):
        r2 = None
    pareto = [dict(complexity=int(row.complexity),
                   loss=float(row.loss) if math.isfinite(row.loss) else None,
                   equation=row.equation, latex=to_latex(row.sympy_format),
                   width=row.width, chosen=bool(row.chosen))
              for row in reg.equations_.itertuples()]
    return Discovery(reg.expression_, reg.latex(), r2, complexity(reg.expression_),
                     reg.seconds_, pareto, [str(v) for v in variables], str(target), reg,
                     Xte, yte)


def plot_fit(y_true: Any, y_pred: Any, path: str | os.PathLike, *, latex: str | None = None,
             target: str = "y", r2: float | None = None) -> Path:
    """Parity plot (measured on x, formula on y) saved atomically to ``path``."""
    from matplotlib.figure import Figure

    from ..plot import _save
    from ..symbolic.export import render_check

    y_true = np.asarray(y_true, float).ravel()
    y_pred = np.asarray(y_pred, float).ravel()
    fig = Figure(figsize=(4.6, 4.4), layout="constrained")
    ax = fig.add_subplot()
    ok = np.isfinite(y_pred)
    ax.scatter(y_true[ok], y_pred[ok], s=6, alpha=0.6, color="tab:blue", lw=0)
    lo, hi = float(np.min(y_true)), float(np.max(y_true))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=0.8, ls="--")
    ax.set_xlabel(f"measured {target}")
    ax.set_ylabel("formula")
    title = ""
    if latex:
        try:
            render_check(latex)
            title = f"${latex}$"
        except InputError:
            title = ""
    if r2 is not None:
        title += ("\n" if title else "") + f"test $R^2$ = {r2:.6f}"
    if title:
        ax.set_title(title, fontsize=9)
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    _save(fig, path, dpi=150)
    return path

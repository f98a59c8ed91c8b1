"""kandiscover: from scientific data to formulas with Kolmogorov-Arnold Networks.

The public API::

    model = kandiscover.KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    history = model.fit(X, y, steps=50, lamb=0.002)
    pruned, report = model.prune()
    kandiscover.save(pruned, "model.h5"); kandiscover.load("model.h5")
    kandiscover.plot(pruned, "net.png")

    symbolic, report = kandiscover.auto_symbolic(pruned, X, y)
    expr = kandiscover.to_sympy(symbolic, variables=["x", "y"])
    kandiscover.to_latex(expr)

    reg = kandiscover.KANRegressor().fit(X, y, variable_names=["x", "y"])
    reg.sympy(), reg.latex(), reg.equations_
"""

from .data import feynman
from .data.dataset import SequenceDataset, TabularDataset, load_dataset, save_dataset
from .data.store import load, save
from .errors import (InputError, InputTypeError, KandiscoverError, ModelFileError,
                     PruningError, TrainingError)
from .kan import KAN, History, KANLayer, SeqKAN, fit
from .plot import plot  # bound after the submodule import, so the name stays the function
from .sparsify import PruneReport, attribution, prune
from .compare.metrics import symbolic_solution
from .compare.hidden import HiddenStateAnalysis, hidden_state_analysis
from .symbolic.seqrules import SeqKANRules, refine_rules, symbolify_seqkan
from .symbolic import library
from .symbolic.auto import SymbolicReport, auto_symbolic
from .symbolic.compiler import compile_formula
from .symbolic.parse import parse_formula
from .symbolic.edgefit import EdgeFit, fit_edge, suggest
from .symbolic.export import render_check, to_latex, to_numpy, to_text
from .symbolic.expression import ExpressionCheck, to_sympy
from .symbolic.graph import to_graph

__version__ = "0.1.0"

#: names imported on first use: scikit-learn (and the scipy.stats it loads)
#: take about 1.5 s, which every spawned study worker and CLI call would pay
_LAZY = {"KANRegressor": "estimator"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = ["KAN", "KANLayer", "SeqKAN", "History", "fit", "prune", "attribution", "PruneReport",
           "save", "load", "plot", "feynman", "load_dataset", "save_dataset",
           "TabularDataset", "SequenceDataset", "library", "KANRegressor", "auto_symbolic",
           "SymbolicReport", "EdgeFit", "fit_edge", "suggest", "to_graph", "to_sympy",
           "ExpressionCheck", "to_latex", "to_text", "to_numpy", "render_check",
           "symbolic_solution", "hidden_state_analysis", "HiddenStateAnalysis",
           "symbolify_seqkan", "refine_rules", "SeqKANRules", "parse_formula",
           "compile_formula", "KandiscoverError", "InputError",
           "InputTypeError", "ModelFileError", "PruningError", "TrainingError",
           "__version__"]

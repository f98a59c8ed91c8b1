"""kandiscover: from scientific data to formulas with Kolmogorov-Arnold Networks.

The public API::

    model = kandiscover.KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    history = model.fit(X, y, steps=50, lamb=0.002)
    pruned, report = model.prune()
    kandiscover.save(pruned, "model.h5"); kandiscover.load("model.h5")
    kandiscover.plot(pruned, "net.png")
"""

from .data.store import load, save
from .errors import (InputError, InputTypeError, KandiscoverError, ModelFileError,
                     PruningError, TrainingError)
from .kan import KAN, History, KANLayer, fit
from .plot import plot  # bound after the submodule import, so the name stays the function
from .sparsify import PruneReport, attribution, prune
from .symbolic import library

__version__ = "0.1.0"

__all__ = ["KAN", "KANLayer", "History", "fit", "prune", "attribution", "PruneReport",
           "save", "load", "plot", "library", "KandiscoverError", "InputError",
           "InputTypeError", "ModelFileError", "PruningError", "TrainingError",
           "__version__"]

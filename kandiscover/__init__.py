"""kandiscover: from scientific data to formulas with Kolmogorov-Arnold Networks."""

from .errors import (InputError, InputTypeError, KandiscoverError, ModelFileError,
                     PruningError, TrainingError)
from .kan import KAN, History, KANLayer, fit

__version__ = "0.1.0"

__all__ = ["KAN", "KANLayer", "History", "fit", "KandiscoverError", "InputError",
           "InputTypeError", "ModelFileError", "PruningError", "TrainingError",
           "__version__"]

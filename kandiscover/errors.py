"""Exceptions raised by kandiscover.

Every error a user can cause is a subclass of :class:`KandiscoverError`
and of the matching builtin (``ValueError`` or ``TypeError``), so
``except ValueError`` keeps working in user code.  The CLI turns these into
one line on stderr and exit status 2.
"""

from __future__ import annotations


class KandiscoverError(Exception):
    """Base class of all errors raised on purpose by kandiscover."""


class InputError(KandiscoverError, ValueError):
    """An argument has the wrong value (shape, range, NaN, ...)."""


class InputTypeError(KandiscoverError, TypeError):
    """An argument has the wrong type (non-numeric array, ...)."""


class ModelFileError(KandiscoverError, ValueError):
    """A model file is missing, truncated, not HDF5 or not a kandiscover model."""


class PruningError(KandiscoverError, ValueError):
    """Pruning would disconnect an output from every input."""


class TrainingError(KandiscoverError, RuntimeError):
    """Training diverged (the loss became NaN or infinite)."""

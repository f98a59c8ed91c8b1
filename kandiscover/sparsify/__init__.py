"""Sparsification: regularization penalties, attribution scores and pruning."""

from .prune import PruneReport, attribution, prune
from .regularize import regularization

__all__ = ["regularization", "attribution", "prune", "PruneReport"]

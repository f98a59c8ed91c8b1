"""The networks: B-splines, KAN layers, the KAN and its training loop."""

from .layer import KANLayer
from .network import KAN
from .seqkan import SeqKAN
from .train import History, fit

__all__ = ["KAN", "KANLayer", "History", "fit", "SeqKAN"]

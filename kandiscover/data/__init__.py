"""Files: HDF5 storage of models (and, later, datasets and results)."""

from .store import FORMAT_VERSION, load, save

__all__ = ["save", "load", "FORMAT_VERSION"]

"""Symbolic side: the library of named 1-D functions."""

from . import library

__all__ = ["library"]

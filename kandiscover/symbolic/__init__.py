"""Symbolic side: the function library, edge fits, auto-symbolic, the graph,
expressions and their export."""

from . import library

__all__ = ["library"]

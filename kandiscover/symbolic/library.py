"""Named 1-D functions that a KAN edge can be fixed to.

Each entry has a torch form (used by the network), a sympy form (used to
read formulas off the network) and a complexity (used to rank fits).
Symbolic edges are saved by name: a function must be registered here to be
saved and loaded.  Users add their own with :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy
import torch

__all__ = ["SymbolicFunction", "register", "get", "names", "name_of"]


@dataclass(frozen=True)
class SymbolicFunction:
    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int


_REGISTRY: dict[str, SymbolicFunction] = {}


def register(name: str, torch_fn: Callable, sympy_fn: Callable, complexity: int,
             overwrite: bool = False) -> SymbolicFunction:
    """Add a named function; ``overwrite=True`` replaces an existing one."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"a function name must be a non-empty string without spaces, "
                         f"got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a function named {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables")
    entry = SymbolicFunction(name, torch_fn, sympy_fn, int(complexity))
    _REGISTRY[name] = entry
    return entry


def get(name: str) -> SymbolicFunction:
    """The registered function called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no symbolic function named {name!r}; known: "
                       f"{', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def name_of(torch_fn: Callable) -> str | None:
    """The registered name of a torch callable, if any."""
    for entry in _REGISTRY.values():
        if entry.torch_fn is torch_fn:
            return entry.name
    return None


def _builtin() -> None:
    s = sympy
    table = [
        ("x", lambda x: x, lambda x: x, 1),
        ("x^2", lambda x: x ** 2, lambda x: x ** 2, 2),
        ("x^3", lambda x: x ** 3, lambda x: x ** 3, 3),
        ("x^4", lambda x: x ** 4, lambda x: x ** 4, 3),
        ("1/x", lambda x: 1 / x, lambda x: 1 / x, 2),
        ("1/x^2", lambda x: 1 / x ** 2, lambda x: 1 / x ** 2, 2),
        ("sqrt", torch.sqrt, s.sqrt, 2),
        ("1/sqrt", torch.rsqrt, lambda x: 1 / s.sqrt(x), 2),
        ("exp", torch.exp, s.exp, 2),
        ("log", torch.log, s.log, 2),
        ("sin", torch.sin, s.sin, 2),
        ("cos", torch.cos, s.cos, 2),
        ("tan", torch.tan, s.tan, 3),
        ("tanh", torch.tanh, s.tanh, 3),
        ("arcsin", torch.arcsin, s.asin, 4),
        ("arccos", torch.arccos, s.acos, 4),
        ("arctan", torch.arctan, s.atan, 4),
        ("arctanh", torch.arctanh, s.atanh, 4),
        ("abs", torch.abs, s.Abs, 3),
        ("gaussian", lambda x: torch.exp(-x ** 2), lambda x: s.exp(-x ** 2), 3),
        ("0", lambda x: x * 0, lambda x: s.Integer(0), 0),
    ]
    for name, tf, sf, c in table:
        _REGISTRY[name] = SymbolicFunction(name, tf, sf, c)


_builtin()

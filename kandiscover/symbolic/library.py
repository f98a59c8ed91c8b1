r"""Named 1-D functions that a KAN edge can be fixed to.

Each entry has

* a torch form (the exact function),
* a *singularity-safe* torch form used inside networks while training (the
  argument is clamped away from poles and domain edges, so one bad step
  cannot produce ``inf``/``nan``; on the function's domain both forms agree),
* a sympy form (used to read formulas off the network),
* a complexity (used to rank fits: simpler functions win ties),
* a domain (the argument interval(s) where the function is real and finite;
  an edge fit must keep every sample's argument inside one of them), and
* a search kind telling :mod:`kandiscover.symbolic.edgefit` which of the
  affine parameters in :math:`c\,f(a x + b) + d` are redundant for this
  function (see :data:`SEARCH_KINDS`).

Symbolic edges are saved by name: a function must be registered here to be
saved and loaded.  Users add their own with :func:`register`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import sympy
import torch

__all__ = ["SymbolicFunction", "register", "unregister", "get", "names", "name_of",
           "resolve", "power_name", "SEARCH_KINDS"]

#: How :mod:`~kandiscover.symbolic.edgefit` searches the inner affine map
#: ``a x + b`` of ``c f(a x + b) + d``:
#:
#: ``"linear"``  f is affine itself: only c, d are fitted (a = 1, b = 0);
#: ``"shift"``   f(a x + b) = |a|^p f(+-x + b/a) (powers, reciprocals, roots,
#:               log, abs): a = +-1, b is searched;
#: ``"scale"``   f(a x + b) = e^b f(a x) (exp): b = 0, a is searched;
#: ``"full"``    both a and b are searched (periodic, sigmoid-like, bumps).
SEARCH_KINDS = ("linear", "shift", "scale", "full", "none")

_EPS = 1e-6
_INF = math.inf


@dataclass(frozen=True)
class SymbolicFunction:
    """One named function of the library."""

    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    safe_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    domain: tuple[tuple[float, float], ...] = ((-_INF, _INF),)
    search: str = "full"
    period: float | None = None

    @property
    def train_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The form a network uses: the safe one when there is one."""
        return self.safe_fn if self.safe_fn is not None else self.torch_fn

    def in_domain(self, lo: float, hi: float) -> bool:
        """Whether arguments spanning [lo, hi] lie inside one domain interval."""
        return any(a <= lo and hi <= b for a, b in self.domain)


_REGISTRY: dict[str, SymbolicFunction] = {}


def register(name: str, torch_fn: Callable, sympy_fn: Callable, complexity: int,
             overwrite: bool = False, *, safe_fn: Callable | None = None,
             domain: Sequence[tuple[float, float]] | None = None,
             search: str = "full", period: float | None = None) -> SymbolicFunction:
    """Add a named function to the library.

    Parameters
    ----------
    name : the name formulas and saved files use (no spaces)
    torch_fn : tensor -> tensor, the exact function
    sympy_fn : sympy expression -> sympy expression
    complexity : a small positive integer; lower is preferred in ties
    overwrite : replace an existing entry of the same name
    safe_fn : optional singularity-safe torch form for training
    domain : argument intervals where the function is defined, e.g.
        ``[(0, inf)]`` for a root; default the whole real line
    search : see :data:`SEARCH_KINDS`; ``"full"`` is always correct, only slower
    period : the period of a periodic function (2*pi for a sine); edge fits
        then report the shift b reduced to one period around zero
    """
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"a function name must be a non-empty string without spaces, "
                         f"got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a function named {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables")
    if safe_fn is not None and not callable(safe_fn):
        raise TypeError("safe_fn must be a callable or None")
    if search not in SEARCH_KINDS:
        raise ValueError(f"search must be one of {SEARCH_KINDS}, got {search!r}")
    if isinstance(complexity, bool) or not isinstance(complexity, (int, float)) \
            or complexity < 0:
        raise ValueError(f"complexity must be a number >= 0, got {complexity!r}")
    dom = ((-_INF, _INF),) if domain is None else tuple(
        (float(a), float(b)) for a, b in domain)
    if not dom or any(not a < b for a, b in dom):
        raise ValueError(f"domain must be a list of (low, high) intervals, got {domain!r}")
    if period is not None and not (isinstance(period, (int, float)) and 0 < period < _INF):
        raise ValueError(f"period must be a positive number or None, got {period!r}")
    entry = SymbolicFunction(name, torch_fn, sympy_fn, int(complexity), safe_fn, dom, search,
                             None if period is None else float(period))
    _REGISTRY[name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a user function (built-in functions cannot be removed)."""
    if name in _BUILTIN_NAMES:
        raise ValueError(f"{name!r} is a built-in function and cannot be removed")
    _REGISTRY.pop(name, None)


def get(name: str) -> SymbolicFunction:
    """The registered function called ``name``."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        entry = _power_entry(name) if isinstance(name, str) else None
        if entry is not None:
            return entry
        raise KeyError(f"no symbolic function named {name!r}; known: "
                       f"{', '.join(sorted(_REGISTRY))}, and powers x^n, x^(p/q), "
                       "x^1.5") from None


def names() -> list[str]:
    """Names of every registered function, sorted."""
    return sorted(_REGISTRY)


def name_of(torch_fn: Callable) -> str | None:
    """The registered name of a torch callable (exact or safe form), if any."""
    for entry in _REGISTRY.values():
        if entry.torch_fn is torch_fn or entry.safe_fn is torch_fn:
            return entry.name
    return None


def resolve(lib: Sequence[str] | None = None, exclude_zero: bool = True
            ) -> list[SymbolicFunction]:
    """The entries named in ``lib`` (default: the whole library).

    The constant ``"0"`` is left out unless asked for by name: an edge
    becomes zero by pruning, never by fitting.  Unknown names raise
    :class:`~kandiscover.errors.InputError` listing the known ones.
    """
    from ..errors import InputError, InputTypeError

    if lib is None:
        return [e for n, e in sorted(_REGISTRY.items()) if not (exclude_zero and n == "0")]
    if isinstance(lib, str) or not isinstance(lib, Sequence):
        raise InputTypeError(f"lib must be a list of function names, got {lib!r}")
    unknown = [n for n in lib if n not in _REGISTRY and _power_entry(n) is None]
    if unknown:
        raise InputError(f"unknown library function(s) {unknown}; known: "
                         f"{', '.join(sorted(_REGISTRY))}")
    if not lib:
        raise InputError("lib must name at least one function")
    return [get(n) for n in dict.fromkeys(lib)]


# ------------------------------------------------------ powers u ** p
# Any real exponent is available by name ("x^5", "x^(2/3)", "x^1.5") without
# registering it: the entry is made on first use and cached, so models that
# use one save and load like any other.  These entries are not listed by
# :func:`names` and are not candidates of edge fits unless named in ``lib``.
_POWER_RE = re.compile(r"^x\^(?:\((-?\d+)/(\d+)\)|(-?\d+)|(-?\d+\.\d*(?:[eE][-+]?\d+)?))$")
_POWERS: dict[str, SymbolicFunction] = {}
_NAMED_POWERS = {Fraction(1): "x", Fraction(2): "x^2", Fraction(3): "x^3", Fraction(4): "x^4",
                 Fraction(-1): "1/x", Fraction(-2): "1/x^2", Fraction(1, 2): "sqrt",
                 Fraction(-1, 2): "1/sqrt"}


def power_name(p) -> str:
    """The library name of ``u ** p``: a built-in name where there is one
    (``2 -> "x^2"``, ``-1 -> "1/x"``, ``1/2 -> "sqrt"``), else ``"x^5"``,
    ``"x^(2/3)"`` (rationals, sympy or :class:`fractions.Fraction`) or
    ``"x^1.5"`` (floats)."""
    if isinstance(p, sympy.Rational) or isinstance(p, (int, Fraction)):
        frac = Fraction(int(sympy.Integer(p.p)), int(sympy.Integer(p.q))) \
            if isinstance(p, sympy.Rational) else Fraction(p)
        if frac == 0:
            raise ValueError("u ** 0 is the constant 1, not a function")
        if frac in _NAMED_POWERS:
            return _NAMED_POWERS[frac]
        return f"x^{frac.numerator}" if frac.denominator == 1 else \
            f"x^({frac.numerator}/{frac.denominator})"
    value = float(p)
    if not math.isfinite(value):
        raise ValueError(f"the exponent must be finite, got {p!r}")
    if value == int(value):
        return power_name(int(value))
    return f"x^{value!r}"


def _power_entry(name: str) -> SymbolicFunction | None:
    if name in _POWERS:
        return _POWERS[name]
    m = _POWER_RE.match(name)
    if m is None:
        return None
    num, den, integer, real = m.groups()
    if integer is not None:
        p_sym, p_val, whole = sympy.Integer(int(integer)), float(integer), True
    elif num is not None:
        if int(den) == 0:
            return None
        p_sym = sympy.Rational(int(num), int(den))
        p_val, whole = float(p_sym), p_sym.q == 1
    else:
        p_sym, p_val = sympy.Float(real), float(real)
        whole = p_val == int(p_val)
    if p_val == 0:
        return None
    if whole:
        n = int(p_val)

        def exact(x, n=n):
            return x ** n

        def safe(x, n=n):
            if n > 0:
                return x ** n
            return (torch.where(x >= 0, 1.0, -1.0).to(x.dtype) * x.abs().clamp_min(_EPS)) ** n
        domain = ((-_INF, _INF),) if n > 0 else _NONZERO
    else:
        def exact(x, p=p_val):
            return torch.pow(x, p)

        def safe(x, p=p_val):
            return torch.pow(x.clamp_min(_EPS), p)
        domain = _POS if p_val > 0 else ((1e-12, _INF),)
    entry = SymbolicFunction(name, exact, lambda u, p=p_sym: u ** p, 3, safe, domain, "shift")
    _POWERS[name] = entry
    return entry


# ------------------------------------------------------------ safe forms
def _safe_recip(x):
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype) / x.abs().clamp_min(_EPS)


def _safe_recip2(x):
    return 1 / (x * x).clamp_min(_EPS ** 2)


def _safe_sqrt(x):
    return torch.sqrt(x.clamp_min(_EPS))


def _safe_rsqrt(x):
    return torch.rsqrt(x.clamp_min(_EPS))


def _safe_log(x):
    return torch.log(x.clamp_min(_EPS))


def _safe_exp(x):
    return torch.exp(x.clamp_max(50.0))


def _safe_tan(x):
    h = math.pi / 2 - 1e-4
    return torch.tan(x.clamp(-h, h))


def _unit_clamp(fn):
    def safe(x):
        return fn(x.clamp(-1 + _EPS, 1 - _EPS))
    safe.__name__ = f"safe_{fn.__name__}"
    return safe


def _x(x):
    return x


def _x2(x):
    return x * x


def _x3(x):
    return x * x * x


def _x4(x):
    return (x * x) ** 2


def _recip(x):
    return 1 / x


def _recip2(x):
    return 1 / (x * x)


def _gaussian(x):
    return torch.exp(-x * x)


def _zero(x):
    return x * 0


_POS = ((0.0, _INF),)
_NONZERO = ((-_INF, -1e-12), (1e-12, _INF))
_UNIT = ((-1.0, 1.0),)


def _builtin() -> None:
    s = sympy
    table = [
        # name, torch, sympy, complexity, safe, domain, search
        ("x", _x, lambda x: x, 1, None, None, "linear"),
        ("x^2", _x2, lambda x: x ** 2, 2, None, None, "shift"),
        ("x^3", _x3, lambda x: x ** 3, 3, None, None, "shift"),
        ("x^4", _x4, lambda x: x ** 4, 3, None, None, "shift"),
        ("1/x", _recip, lambda x: 1 / x, 2, _safe_recip, _NONZERO, "shift"),
        ("1/x^2", _recip2, lambda x: 1 / x ** 2, 2, _safe_recip2, _NONZERO, "shift"),
        ("sqrt", torch.sqrt, s.sqrt, 2, _safe_sqrt, _POS, "shift"),
        ("1/sqrt", torch.rsqrt, lambda x: 1 / s.sqrt(x), 2, _safe_rsqrt,
         ((1e-12, _INF),), "shift"),
        ("exp", torch.exp, s.exp, 2, _safe_exp, None, "scale"),
        ("log", torch.log, s.log, 2, _safe_log, ((1e-12, _INF),), "shift"),
        ("sin", torch.sin, s.sin, 2, None, None, "full"),
        ("cos", torch.cos, s.cos, 2, None, None, "full"),
        ("tan", torch.tan, s.tan, 3, _safe_tan,
         ((-math.pi / 2 + 1e-3, math.pi / 2 - 1e-3),), "full"),
        ("tanh", torch.tanh, s.tanh, 3, None, None, "full"),
        ("arcsin", torch.arcsin, s.asin, 4, _unit_clamp(torch.arcsin), _UNIT, "full"),
        ("arccos", torch.arccos, s.acos, 4, _unit_clamp(torch.arccos), _UNIT, "full"),
        ("arctan", torch.arctan, s.atan, 4, None, None, "full"),
        ("arctanh", torch.arctanh, s.atanh, 4, _unit_clamp(torch.arctanh),
         ((-1 + 1e-9, 1 - 1e-9),), "full"),
        ("abs", torch.abs, s.Abs, 3, None, None, "shift"),
        ("gaussian", _gaussian, lambda x: s.exp(-x ** 2), 3, None, None, "full"),
        ("0", _zero, lambda x: s.Integer(0), 0, None, None, "none"),
    ]
    periodic = {"sin": 2 * math.pi, "cos": 2 * math.pi}
    for name, tf, sf, c, safe, dom, search in table:
        _REGISTRY[name] = SymbolicFunction(
            name, tf, sf, c, safe, ((-_INF, _INF),) if dom is None else dom, search,
            periodic.get(name))


_builtin()
_BUILTIN_NAMES = frozenset(_REGISTRY)

"""Turn sympy formulas into LaTeX, plain text and numpy callables.

* :func:`to_latex` writes LaTeX with physics-style symbol names
  (``omega_0`` -> ``\\omega_{0}``, ``v_max`` -> ``v_{\\mathrm{max}}``) that
  matplotlib's mathtext can render;
* :func:`to_text` writes a form that both people and :func:`sympy.sympify`
  can read back;
* :func:`to_numpy` compiles a formula into ``f(X)`` on a ``(n, d)`` array;
* :func:`render_check` parses a LaTeX string with mathtext and reports the
  parser's message if it cannot be rendered.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np
import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from ..errors import InputError, InputTypeError

__all__ = ["to_latex", "to_text", "to_numpy", "render_check"]

# Lower-case Greek letters and their variants; LaTeX has no \omicron.
_GREEK_LOWER = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
    "pi rho sigma tau upsilon phi chi psi omega "
    "varepsilon vartheta varkappa varpi varrho varsigma varphi"
).split()
# Upper-case letters with a LaTeX macro; the others look like Latin capitals.
_GREEK_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
_GREEK_AS_LATIN = {
    "Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H",
    "Iota": "I", "Kappa": "K", "Mu": "M", "Nu": "N", "Omicron": "O",
    "Rho": "P", "Tau": "T", "Chi": "X", "omicron": "o",
}

_NAMED: dict[str, str] = {g: "\\" + g for g in _GREEK_LOWER + _GREEK_UPPER}
_NAMED.update(_GREEK_AS_LATIN)
# ``lambda`` is a Python keyword, so users spell it ``lambd`` or ``lamda``.
_NAMED.update({"lambd": r"\lambda", "lamda": r"\lambda",
               "Lambd": r"\Lambda", "Lamda": r"\Lambda",
               "hbar": r"\hbar", "ell": r"\ell"})

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
_HEAD_DIGITS_RE = re.compile(r"([A-Za-z]+)([0-9]+)")

# Settings handed to sympy.latex: \arcsin rather than \operatorname{asin},
# \ln for the natural log, at most 15 significant digits for floats.
_LATEX_SETTINGS: dict[str, Any] = {
    "mul_symbol": None,
    "inv_trig_style": "full",
    "ln_notation": True,
    "full_prec": False,
}

# Macros sympy emits that mathtext does not know, with a replacement.
_MATHTEXT_FIXES = {r"\bmod": r"\operatorname{mod}"}


def _as_expr(expr: Any, func: str) -> sympy.Expr:
    """Return ``expr`` as a sympy expression or raise InputTypeError."""
    if isinstance(expr, str):
        raise InputTypeError(
            f"{func}() needs a sympy expression, got the string {expr!r}; formula "
            "strings are not passed to sympify here, parse them first"
        )
    if isinstance(expr, sympy.Expr):
        return expr
    if isinstance(expr, (numbers.Number, np.number)) and not isinstance(
            expr, (bool, np.bool_)):
        return sympy.sympify(expr)
    raise InputTypeError(
        f"{func}() needs a sympy expression or a number, got {type(expr).__name__}"
    )


def _word_latex(word: str) -> str:
    """LaTeX of one piece of a name: digits, a Greek letter, a letter or a word."""
    if word.isdigit():
        return word
    if word in _NAMED:
        return _NAMED[word]
    if len(word) == 1:
        return word
    return rf"\mathrm{{{word}}}"


def _symbol_latex(name: str) -> str | None:
    """The automatic LaTeX for a symbol called ``name``.

    Parameters
    ----------
    name : str
        The symbol's name.

    Returns
    -------
    str or None
        ``None`` when the name is not letters, digits and single
        underscores starting with a letter; sympy's own rule is used then.

    Examples
    --------
    >>> _symbol_latex("theta0"), _symbol_latex("v_max"), _symbol_latex("x_1_2")
    ('\\\\theta_{0}', 'v_{\\\\mathrm{max}}', 'x_{1,2}')
    """
    if not _NAME_RE.fullmatch(name):
        return None
    head, *subs = name.split("_")
    if head not in _NAMED:
        m = _HEAD_DIGITS_RE.fullmatch(head)
        if m:
            head = m.group(1)
            subs.insert(0, m.group(2))
    base = _word_latex(head)
    if not subs:
        return base
    return base + "_{" + ",".join(_word_latex(s) for s in subs) + "}"


def _symbol_names(expr: sympy.Expr,
                  names: Mapping[str | sympy.Symbol, str] | None) -> dict:
    """Build the ``symbol_names`` mapping for sympy.latex."""
    overrides: dict[str, str] = {}
    if names is not None:
        if not isinstance(names, Mapping):
            raise InputTypeError(
                f"names must be a dict from symbol (or name) to LaTeX, got "
                f"{type(names).__name__}")
        for key, tex in names.items():
            if isinstance(key, sympy.Symbol):
                key = key.name
            if not isinstance(key, str) or not isinstance(tex, str):
                raise InputTypeError(
                    f"names must map str or Symbol to str, got {key!r}: {tex!r}")
            overrides[key] = tex
    mapping = {}
    for sym in expr.free_symbols:
        if not isinstance(sym, sympy.Symbol):
            continue
        tex = overrides.get(sym.name, _symbol_latex(sym.name))
        if tex is not None:
            mapping[sym] = tex
    return mapping


def to_latex(expr: sympy.Expr | numbers.Number,
             names: Mapping[str | sympy.Symbol, str] | None = None,
             *, digits: int | None = None, inline_fractions: bool = False) -> str:
    r"""LaTeX for a formula, with physics-style symbol names.

    Operators, fractions and functions are printed by :func:`sympy.latex`;
    only the symbols' names are chosen here.  Every name is rewritten by
    these rules:

    * Greek letter names become macros (``theta`` -> ``\theta``,
      ``Omega`` -> ``\Omega``, ``lambd``/``lamda`` -> ``\lambda``); capitals
      without a macro become Latin letters (``Alpha`` -> ``A``);
    * trailing digits become a subscript (``m1`` -> ``m_{1}``);
    * each underscore starts a subscript, several are joined by commas
      (``omega_0`` -> ``\omega_{0}``, ``x_1_2`` -> ``x_{1,2}``);
    * multi-letter words are upright (``mass`` -> ``\mathrm{mass}``,
      ``v_max`` -> ``v_{\mathrm{max}}``); single letters stay italic.

    Inverse trigonometric functions print as ``\arcsin``, the natural log
    as ``\ln`` and floats with at most 15 significant digits.  The result
    renders with matplotlib's mathtext (see :func:`render_check`).

    Parameters
    ----------
    expr : sympy.Expr or number
        The formula.  Strings are refused: they must go through a parser,
        never through :func:`sympy.sympify`.
    names : dict, optional
        Symbol (or symbol name) -> LaTeX string, overriding the automatic
        rules for those symbols.
    digits : int, optional
        If given, floats are shown with this many significant digits.
    inline_fractions : bool
        Write short fractions as ``a / b`` rather than ``\frac{a}{b}`` (for
        labels set in small type, such as a figure's axis names).

    Returns
    -------
    str
        LaTeX without surrounding ``$``.

    Raises
    ------
    InputTypeError
        If ``expr`` is not a sympy expression or a number, or ``names`` is
        not a mapping from str/Symbol to str.
    InputError
        If ``digits`` is not a positive integer.

    Examples
    --------
    >>> G, m1, m2, r = sympy.symbols("G m1 m2 r")
    >>> to_latex(G * m1 * m2 / r**2)
    '\\frac{G m_{1} m_{2}}{r^{2}}'
    """
    expr = _as_expr(expr, "to_latex")
    if digits is not None:
        if isinstance(digits, bool) or not isinstance(digits, numbers.Integral):
            raise InputTypeError(f"digits must be an int, got {type(digits).__name__}")
        if digits < 1:
            raise InputError(f"digits must be at least 1, got {digits}")
        expr = round_floats(expr, int(digits))
    tex = sympy.latex(expr, symbol_names=_symbol_names(expr, names),
                      fold_short_frac=bool(inline_fractions), **_LATEX_SETTINGS)
    for bad, good in _MATHTEXT_FIXES.items():
        tex = tex.replace(bad, good)
    return tex


def round_floats(expr: sympy.Expr, digits: int | None) -> sympy.Expr:
    """Every float of ``expr`` to ``digits`` significant digits (None: as is).
    One that rounds to +-1 becomes the integer, so ``1.0*x`` reads ``x``."""
    if digits is None:
        return expr

    def rounded(f: sympy.Float) -> sympy.Expr:
        v = float(f"{float(f):.{digits}g}")
        return sympy.Integer(int(v)) if abs(v) == 1 else sympy.Float(v)

    return expr.xreplace({f: rounded(f) for f in expr.atoms(sympy.Float)})


class _TextPrinter(StrPrinter):
    """sympy's str printer, but floats keep every bit of a Python float."""

    def _print_Float(self, expr: sympy.Float) -> str:
        value = float(expr)
        if expr._prec == 53 and np.isfinite(value):
            return repr(value)
        return super()._print_Float(expr)


def to_text(expr: sympy.Expr | numbers.Number) -> str:
    """Plain-text form of a formula, readable by people, Python and sympy.

    Powers are written ``**`` and functions by their sympy names
    (``exp(y**2 + sin(pi*x))``, ``Abs``, ``atanh``, ``sqrt``).  Floats are
    written with Python's shortest ``repr``, so reading the text back gives
    the same double value.

    Parameters
    ----------
    expr : sympy.Expr or number
        The formula.

    Returns
    -------
    str
        Text such that ``sympy.sympify(text, locals={n: Symbol(n) ...})``,
        with one entry per free symbol name, gives back ``expr`` (exactly
        for integers, rationals, constants and functions; floats with 16 or
        17 significant digits come back with a few more bits of precision
        but the same ``float`` value).  Symbol assumptions are not written.

    Raises
    ------
    InputTypeError
        If ``expr`` is not a sympy expression or a number.
    """
    expr = _as_expr(expr, "to_text")
    return _TextPrinter().doprint(expr)


def to_numpy(expr: sympy.Expr | numbers.Number,
             variables: Sequence[str | sympy.Symbol]) -> Callable[[np.ndarray], np.ndarray]:
    """Compile a formula into a numpy function of a data matrix.

    Parameters
    ----------
    expr : sympy.Expr or number
        The formula.  Its free symbols are matched to ``variables`` by name,
        so assumptions on the symbols (``positive=True``, ...) do not matter.
    variables : sequence of str or sympy.Symbol
        The names of the columns of ``X``, in order.  It may list names that
        ``expr`` does not use.

    Returns
    -------
    callable
        ``f(X)`` taking a 2-D array of shape ``(n, len(variables))`` and
        returning a float array of shape ``(n,)``; a constant formula gives
        that constant ``n`` times.  ``f`` raises InputError if ``X`` is not
        2-D or has the wrong number of columns, and InputTypeError if it is
        not numeric.

    Raises
    ------
    InputTypeError
        If ``expr`` or ``variables`` has the wrong type.
    InputError
        If ``expr`` uses a symbol not in ``variables``, ``variables`` repeats
        a name, or ``expr`` calls an undefined function such as ``f(x)``.
    """
    expr = _as_expr(expr, "to_numpy")
    if isinstance(variables, (str, sympy.Symbol)) or not isinstance(variables, Sequence):
        raise InputTypeError(
            "variables must be a list of names or Symbols (one per column of X), "
            f"got {variables!r}")
    names = []
    for v in variables:
        if isinstance(v, sympy.Symbol):
            v = v.name
        if not isinstance(v, str):
            raise InputTypeError(f"variables must be names or Symbols, got {v!r}")
        names.append(v)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"variables repeats {', '.join(repeated)}")
    missing = sorted({s.name for s in expr.free_symbols} - set(names))
    if missing:
        raise InputError(
            f"the expression uses {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not in variables "
            f"({', '.join(names) or 'empty'})")
    undefined = sorted({str(f.func) for f in expr.atoms(AppliedUndef)})
    if undefined:
        raise InputError(
            f"the expression calls undefined function(s) {', '.join(undefined)}; "
            "numpy cannot evaluate them")
    args = [sympy.Dummy(n) for n in names]
    by_name = dict(zip(names, args))
    body = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})
    compiled = sympy.lambdify(args, body, modules="numpy")
    d = len(names)
    shape_hint = f"(n, {d}) with columns {', '.join(names)}" if d else "(n, 0)"

    def f(X: Any) -> np.ndarray:
        arr = np.asarray(X)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                       or arr.dtype == np.bool_):
            raise InputTypeError(f"X must be numeric, got dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise InputTypeError(f"X must be real-valued, got dtype {arr.dtype}")
        if arr.ndim != 2:
            hint = "; for one variable use X.reshape(-1, 1)" if arr.ndim == 1 else ""
            raise InputError(
                f"X must be 2-D of shape {shape_hint}, got shape {arr.shape}{hint}")
        if arr.shape[1] != d:
            raise InputError(
                f"X has {arr.shape[1]} columns but {d} variables were given; "
                f"expected shape {shape_hint}")
        arr = arr.astype(np.float64, copy=False)
        out = np.asarray(compiled(*(arr[:, j] for j in range(d))))
        if np.iscomplexobj(out):
            raise InputError("the expression evaluates to complex numbers")
        out = out.astype(np.float64, copy=False)
        if out.shape != (arr.shape[0],):
            out = np.broadcast_to(out, (arr.shape[0],)).copy()
        return out

    f.__doc__ = f"Evaluate {to_text(expr)} on X of shape {shape_hint}."
    return f


_PARSER = None


def render_check(latex: str) -> None:
    """Check that matplotlib's mathtext can render ``$latex$``.

    Parsing uses the ``"path"`` output, which needs no display or figure
    and writes no file.

    Parameters
    ----------
    latex : str
        LaTeX without surrounding ``$``.

    Raises
    ------
    InputTypeError
        If ``latex`` is not a string.
    InputError
        If mathtext cannot parse it; the message includes the parser's.
    """
    global _PARSER
    if not isinstance(latex, str):
        raise InputTypeError(f"latex must be a str, got {type(latex).__name__}")
    if _PARSER is None:
        from matplotlib.mathtext import MathTextParser

        _PARSER = MathTextParser("path")
    try:
        _PARSER.parse("$" + latex + "$")
    except Exception as exc:  # mathtext raises ValueError; be safe
        raise InputError(f"mathtext cannot render {latex!r}: {str(exc).strip()}") from None

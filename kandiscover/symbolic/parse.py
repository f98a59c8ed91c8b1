"""Read formula text into sympy expressions without running any code.

:func:`parse_formula` turns text such as ``"G*m1*m2/r**2"`` into a sympy
expression.  It never hands the text to :func:`eval`, :func:`sympy.sympify`
or :func:`sympy.parsing.sympy_parser.parse_expr`: those evaluate the string
as Python code (pykan and sympy's own parser both do), so a formula file that
came from elsewhere could run arbitrary commands.  Instead the text is parsed
with :func:`ast.parse` (which only builds a syntax tree) and the tree is walked
against a whitelist, building the sympy expression node by node.

The whitelist:

* numbers: Python ``int`` and ``float`` literals (``3``, ``2.5``, ``1e-3``);
  ints become :class:`sympy.Integer`, so ``2/3`` is ``Rational(2, 3)``, and
  floats :class:`sympy.Float`;
* names: every identifier is a plain :class:`sympy.Symbol`, including names
  sympy itself would read as functions or constants (``gamma``, ``beta``,
  ``zeta``, ``I``, ``S``, ``N``, ``Q``, ``E_n``, ...).  Only ``pi`` and ``E``
  are the constants pi and e, unless they are listed in ``variables``;
* the operators ``+ - * / **``, unary ``-`` and ``+``, and parentheses.
  ``^`` means a power (scientists write ``x^2``), with the precedence of
  ``**``, so ``a*x^2 + 1`` is ``a*x**2 + 1``;
* calls ``f(arg)`` with one positional argument, where ``f`` is a function of
  :mod:`kandiscover.symbolic.library` with an identifier name (``exp``,
  ``log``, ``sqrt``, ``sin``, ..., ``gaussian`` and user-registered ones), an
  alias (``ln``, ``asin``, ``acos``, ``atan``, ``atanh``, ``Abs``) or
  ``sinh``/``cosh``.

Everything else (attribute access, indexing, lambdas, comprehensions,
comparisons, ``and``/``or``, conditional expressions, strings, keyword
arguments, ``%``, ``//``, bitwise operators, ...) is refused with an
:class:`~kandiscover.errors.InputError` that quotes the offending part of the
text and its column.  Names starting and ending with ``__`` are refused too.
The text is limited to 1000 characters and 50 levels of nesting, and exact
powers whose value would have thousands of digits (``3**10**10``) are refused,
so no input can make the parser hang or exhaust memory.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from typing import Callable, NoReturn

import sympy

from ..errors import InputError, InputTypeError
from . import library

__all__ = ["parse_formula"]

#: Longest formula text accepted, in characters.
MAX_LENGTH = 1000
#: Deepest nesting accepted: of brackets in the text, and of sub-expressions
#: in the syntax tree (a chain ``a + b + c + ...`` counts as one level).
MAX_DEPTH = 50
#: Largest exact number a power may produce, in bits (about 3900 digits).
_MAX_EXACT_BITS = 13_000
#: Longest snippet quoted in an error message.
_MAX_SNIPPET = 60

_CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}
# Other spellings of library functions: alias -> library name.
_ALIASES = {"ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
            "atanh": "arctanh", "Abs": "abs"}
# Functions accepted although the library has no entry for them.
_EXTRA_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sinh": sympy.sinh, "cosh": sympy.cosh}
# Library entries that are not functions one can call by name.
_NOT_CALLABLE = frozenset({"x", "0"})
# Results that mean the formula divides by zero or is infinite (sympy's
# singletons, compared by identity).
_UNDEFINED_IDS = frozenset(map(id, (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)))

_OPERATORS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
    ast.BitXor: "^", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@",
    ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
}
_OPERATOR_HINTS: dict[type, str] = {
    ast.Mod: "the remainder operator '%' is not supported",
    ast.FloorDiv: "floor division '//' is not supported; write '/' for a division",
    ast.MatMult: "matrix multiplication '@' is not supported; write '*' for a product",
    ast.LShift: "bit shifts are not supported",
    ast.RShift: "bit shifts are not supported",
    ast.BitAnd: "bitwise '&' is not supported",
    ast.BitOr: "bitwise '|' is not supported",
}
# Constructs refused outright: node type -> (what it is, what to do instead).
_REFUSED: dict[type, tuple[str, str]] = {
    ast.Attribute: ("attribute access",
                    "write names without dots, e.g. x_real instead of x.real"),
    ast.Subscript: ("indexing", "write indexed quantities as names such as x_0 or x0"),
    ast.Lambda: ("a lambda expression",
                 "a formula is one expression of names, numbers, operators and "
                 "function calls (to name the wavelength lambda, write lambd)"),
    ast.ListComp: ("a comprehension", "write the formula out term by term"),
    ast.SetComp: ("a comprehension", "write the formula out term by term"),
    ast.DictComp: ("a comprehension", "write the formula out term by term"),
    ast.GeneratorExp: ("a comprehension", "write the formula out term by term"),
    ast.Compare: ("a comparison",
                  "a formula computes a value; it cannot contain <, >, ==, != or 'in'"),
    ast.BoolOp: ("a boolean operator", "'and' and 'or' are not supported"),
    ast.IfExp: ("a conditional expression", "'if ... else' is not supported"),
    ast.NamedExpr: ("an assignment ':='", "a formula cannot assign names"),
    ast.Starred: ("a starred expression", "pass one plain argument"),
    ast.JoinedStr: ("an f-string", "only numbers and names are allowed"),
    ast.FormattedValue: ("an f-string", "only numbers and names are allowed"),
    ast.Tuple: ("a tuple", "a formula is a single expression; remove the commas"),
    ast.List: ("a list", "use parentheses ( ) for grouping, not brackets"),
    ast.Set: ("a set", "use parentheses ( ) for grouping, not braces"),
    ast.Dict: ("a dict", "use parentheses ( ) for grouping, not braces"),
    ast.Slice: ("a slice", "indexing is not supported"),
    ast.Await: ("an await expression", "a formula is one plain expression"),
    ast.Yield: ("a yield expression", "a formula is one plain expression"),
    ast.YieldFrom: ("a yield expression", "a formula is one plain expression"),
}
_LAMBDA_RE = re.compile(r"(?<![\w.])lambda(?!\w)")
_LAMBDA_HINT = " ('lambda' is a Python keyword: write the name as lambd)"


# ---------------------------------------------------------------- helpers
def _is_name(name: str) -> bool:
    """Whether ``name`` can be written as a name in a formula."""
    return name.isidentifier() and not keyword.iskeyword(name) and not _is_dunder(name)


def _is_dunder(name: str) -> bool:
    return len(name) >= 4 and name.startswith("__") and name.endswith("__")


def _function(name: str) -> Callable[[sympy.Expr], sympy.Expr] | None:
    """The sympy form of the function called ``name``, or None.

    Looked up in the library on every call, so functions registered after
    import are found; registered names take precedence over the aliases.
    """
    if name in _NOT_CALLABLE or not _is_name(name):
        return None
    registered = library.names()
    if name in registered:
        return library.get(name).sympy_fn
    if name in _ALIASES and _ALIASES[name] in registered:
        return library.get(_ALIASES[name]).sympy_fn
    return _EXTRA_FUNCTIONS.get(name)


def _function_names() -> list[str]:
    """Every name :func:`parse_formula` accepts in a call, sorted."""
    names = {n for n in library.names() if n not in _NOT_CALLABLE and _is_name(n)}
    names.update(a for a, target in _ALIASES.items() if target in library.names())
    names.update(_EXTRA_FUNCTIONS)
    return sorted(names)


def _line_starts(text: str) -> list[int]:
    """Indexes where each line of ``text`` starts (\\n, \\r\\n and \\r end lines)."""
    starts = [0]
    i = 0
    while i < len(text):
        if text[i] == "\r" and text[i + 1:i + 2] == "\n":
            i += 1
        if text[i] in "\r\n":
            starts.append(i + 1)
        i += 1
    return starts


def _quote(snippet: str) -> str:
    """``snippet`` quoted for a message, shortened when long."""
    snippet = " ".join(snippet.split())
    if len(snippet) > _MAX_SNIPPET:
        snippet = snippet[:_MAX_SNIPPET - 3] + "..."
    return repr(snippet)


def _validate_variables(variables: Iterable[str] | None) -> dict[str, str] | None:
    """Check ``variables``; return {normalized name: name as given}, or None."""
    if variables is None:
        return None
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Iterable):
        raise InputTypeError(
            "variables must be a list of variable names such as ['x', 'y'], "
            f"got {variables!r}")
    known: dict[str, str] = {}
    for i, name in enumerate(variables):
        if not isinstance(name, str):
            raise InputTypeError(
                f"variables[{i}] must be a string, got {type(name).__name__} {name!r}")
        if not _is_name(name):
            hint = " (write the name as lambd)" if name == "lambda" else ""
            raise InputError(
                f"variables[{i}] = {name!r} is not a valid variable name{hint}; names "
                "must be identifiers such as m1 or v_max, not keywords and not "
                "starting and ending with '__'")
        # Python reads identifiers in NFKC form; compare names the same way.
        norm = unicodedata.normalize("NFKC", name)
        if norm in known:
            raise InputError(f"variables lists {name!r} twice; list each name once")
        known[norm] = name
    return known


# ---------------------------------------------------------------- the parser
class _Builder:
    """Walks a formula's syntax tree and builds the sympy expression."""

    def __init__(self, original: str, parsed: str, index_map: list[int],
                 variables: dict[str, str] | None) -> None:
        self.original = original
        self.parsed = parsed            # the text handed to ast.parse
        self.index_map = index_map      # index in parsed -> index in original
        self.parsed_lines = _line_starts(parsed)
        self.original_lines = _line_starts(original)
        self.variables = variables
        self.missing: dict[str, int] = {}   # unlisted name -> original index

    # -- positions
    def _index(self, lineno: int, col_bytes: int) -> int:
        """Character index in the parsed text of (line, UTF-8 byte column)."""
        start = self.parsed_lines[lineno - 1]
        line = self.parsed[start:]
        return start + len(line.encode("utf-8")[:col_bytes].decode("utf-8", "replace"))

    def _span(self, node: ast.AST) -> tuple[int, int]:
        """Start and end (exclusive) of ``node`` in the original text."""
        start = self._index(node.lineno, node.col_offset)
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        end = start + 1 if end_line is None or end_col is None \
            else self._index(end_line, end_col)
        end = max(end, start + 1)
        o_start = self.index_map[start]
        o_end = self.index_map[min(end, len(self.index_map)) - 1] + 1
        return o_start, o_end

    def location(self, index: int) -> str:
        """``column N`` (or ``line L, column N``) of an original-text index."""
        return _location(self.original_lines, index)

    def snippet(self, node: ast.AST) -> tuple[str, str]:
        """The quoted source text of ``node`` and its location."""
        start, end = self._span(node)
        return _quote(self.original[start:end]), self.location(start)

    def refuse(self, node: ast.AST, what: str, hint: str) -> NoReturn:
        """Raise InputError about ``node``: ``what`` it is and ``hint`` to fix it."""
        quoted, where = self.snippet(node)
        raise InputError(f"{what} {quoted} at {where} is not allowed in a formula; {hint}")

    # -- the walk
    def build(self, node: ast.AST, depth: int) -> sympy.Expr:
        """The sympy expression of ``node``, found ``depth`` levels deep."""
        if depth > MAX_DEPTH:
            quoted, where = self.snippet(node)
            raise InputError(
                f"the formula nests deeper than {MAX_DEPTH} levels at {where} ({quoted}); "
                "simplify it or split it into parts")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unaryop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        what, hint = _REFUSED.get(type(node), (
            f"the construct {type(node).__name__}",
            "a formula may only contain numbers, names, + - * / ** ^, parentheses "
            "and calls f(x) of known functions"))
        self.refuse(node, what, hint)

    def _constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            self.refuse(node, "the value", "only int and float numbers are allowed")
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                quoted, where = self.snippet(node)
                raise InputError(f"the number {quoted} at {where} is too large for a "
                                 "float; use a smaller number or change the units")
            return sympy.Float(value)
        if isinstance(value, complex):
            self.refuse(node, "the complex number", "formulas are real-valued")
        if isinstance(value, (str, bytes)):
            self.refuse(node, "the text literal",
                        "only numbers and names are allowed (remove the quotes)")
        self.refuse(node, "the literal", "only int and float numbers are allowed")

    def _check_dunder(self, node: ast.Name) -> None:
        if _is_dunder(node.id):
            self.refuse(node, "the name",
                        "names starting and ending with '__' are reserved; rename it")

    def _name(self, node: ast.Name) -> sympy.Expr:
        self._check_dunder(node)
        name = node.id
        listed = self.variables is not None and name in self.variables
        if listed:
            return sympy.Symbol(self.variables[name])  # type: ignore[index]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if _function(name) is not None:
            quoted, where = self.snippet(node)
            extra = ("; if it is a variable, add it to variables"
                     if self.variables is not None else "")
            raise InputError(f"{name} at {where} is a function; call it as "
                             f"{name}(...){extra}")
        if self.variables is not None:
            self.missing.setdefault(name, self._span(node)[0])
        return sympy.Symbol(name)

    def _binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        # Python nests a + b + c on the left; walk that spine in a loop so a
        # long sum or product counts as one level and cannot exhaust the stack.
        spine: list[ast.BinOp] = []
        cur: ast.expr = node
        while isinstance(cur, ast.BinOp):
            spine.append(cur)
            cur = cur.left
        value = self.build(cur, depth + 1)
        for op_node in reversed(spine):
            op = type(op_node.op)
            if op in _OPERATOR_HINTS:
                self.refuse(op_node, f"the operator '{_OPERATORS[op]}' in",
                            _OPERATOR_HINTS[op])
            right = self.build(op_node.right, depth + 1)
            value = self._apply(op_node, op, value, right)
        return value

    def _apply(self, node: ast.BinOp, op: type, left: sympy.Expr,
               right: sympy.Expr) -> sympy.Expr:
        if op is ast.Add:
            result = left + right
        elif op is ast.Sub:
            result = left - right
        elif op is ast.Mult:
            result = left * right
        elif op is ast.Div:
            if right == 0:
                quoted, where = self.snippet(node)
                raise InputError(f"{quoted} at {where} divides by zero; fix the divisor")
            result = left / right
        elif op in (ast.Pow, ast.BitXor):
            self._check_power_size(node, left, right)
            result = left ** right
        else:  # pragma: no cover - every other operator is refused before
            self.refuse(node, "the operator", "it is not supported")
        return self._check_defined(node, result)

    def _check_power_size(self, node: ast.AST, base: sympy.Expr, exp: sympy.Expr,
                          what: str = "the power") -> None:
        """Refuse powers whose exact value would have thousands of digits.

        sympy computes ``3**10**10`` exactly, and rewrites ``exp(k*log(2))``
        (also written ``E**(k*log(2))``) as ``2**k``; either could run for
        hours.  The bound is the bits of the exact numbers that would be
        raised (in the base, or inside a log in the exponent) times the
        exponent's size.
        """
        if isinstance(exp, sympy.Rational):
            size, raised = abs(exp), _rational_bits(base)
        elif exp.has(sympy.log):
            size = max((abs(r) for r in exp.atoms(sympy.Rational)), default=sympy.S.Zero)
            raised = _rational_bits(base) + sum(
                _rational_bits(lg.args[0]) for lg in exp.atoms(sympy.log))
        else:
            return
        if size > 1 and raised * math.ceil(size) > _MAX_EXACT_BITS:
            quoted, where = self.snippet(node)
            raise InputError(
                f"{what} {quoted} at {where} is too large to compute exactly; write "
                "large numbers as floats such as 1e30, or use a smaller exponent")

    def _check_defined(self, node: ast.AST, value: sympy.Expr) -> sympy.Expr:
        """Refuse results that are infinite or undefined (x/0, log(0), ...)."""
        if any(id(part) in _UNDEFINED_IDS for part in (value, *value.args)):
            quoted, where = self.snippet(node)
            raise InputError(f"{quoted} at {where} is infinite or undefined "
                             f"(it evaluates to {value}); fix this part of the formula")
        if value.is_number and value.is_real is False:      # sqrt(-1), log(-2)
            quoted, where = self.snippet(node)
            raise InputError(f"{quoted} at {where} is not a real number (it evaluates to "
                             f"{value}); formulas here are real-valued")
        return value

    def _unaryop(self, node: ast.UnaryOp, depth: int) -> sympy.Expr:
        if isinstance(node.op, ast.USub):
            return -self.build(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand, depth + 1)
        what = "the operator 'not' in" if isinstance(node.op, ast.Not) \
            else "the bitwise operator '~' in"
        self.refuse(node, what, "only unary '-' and '+' are supported")

    def _call(self, node: ast.Call, depth: int) -> sympy.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            # Report what is wrong inside the callee first (x.y, __import__, ...).
            self.build(func, depth + 1)
            start, end = self._span(func)
            self.refuse(node, "the call",
                        "only named functions such as sin(x) can be called; to "
                        "multiply, write '*' explicitly, e.g. "
                        f"{self.original[start:end]}*(...)")
        self._check_dunder(func)
        name = func.id
        fn = _function(name)
        if fn is None:
            quoted, where = self.snippet(func)
            hint = (f"{name} is a constant" if name in _CONSTANTS
                    else "to multiply, write '*' explicitly, e.g. "
                         f"{name}*(...)")
            raise InputError(
                f"{quoted} at {where} is not a known function ({hint}); known "
                f"functions: {', '.join(_function_names())}")
        for kw in node.keywords:
            what = "the keyword argument" if kw.arg is not None else "the '**' argument"
            self.refuse(kw, what, f"{name}() takes exactly one plain argument"
                        + ("; for a logarithm to base b, write log(x)/log(b)"
                           if name in ("log", "ln") else ""))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.refuse(arg, "the starred argument", f"{name}() takes exactly one "
                            "plain argument")
        if len(node.args) != 1:
            quoted, where = self.snippet(node)
            raise InputError(
                f"{quoted} at {where} passes {len(node.args)} arguments; {name}() takes "
                "exactly one" + ("; for a logarithm to base b, write log(x)/log(b)"
                                 if name in ("log", "ln") and node.args else ""))
        arg = self.build(node.args[0], depth + 1)
        self._check_power_size(node, sympy.S.One, arg, "the value of")
        try:
            result = fn(arg)
        except (ArithmeticError, TypeError, ValueError) as exc:
            quoted, where = self.snippet(node)
            raise InputError(f"the function {name} failed on {quoted} at {where}: "
                             f"{exc}") from exc
        if isinstance(result, (int, float)) and not isinstance(result, bool):
            result = sympy.Integer(result) if isinstance(result, int) else sympy.Float(result)
        if not isinstance(result, sympy.Expr):
            raise InputTypeError(
                f"the library function {name!r} returned {type(result).__name__}, "
                "not a sympy expression; check its sympy_fn")
        return self._check_defined(node, result)


def _rational_bits(expr: sympy.Expr) -> float:
    """Total size in bits (log2 of numerator and denominator) of the exact
    numbers in ``expr``; 0, 1 and -1 count nothing."""
    return sum(math.log2(abs(r.p)) + math.log2(r.q)
               for r in expr.atoms(sympy.Rational) if r.p != 0)


def _location(line_starts: list[int], index: int) -> str:
    """``column N`` or ``line L, column N`` (1-based) of a character index, given
    where the text's lines start."""
    line = max(i for i, start in enumerate(line_starts) if start <= index)
    col = index - line_starts[line] + 1
    return f"column {col}" if len(line_starts) == 1 else f"line {line + 1}, column {col}"


def _prepare(text: str) -> tuple[str, list[int]]:
    """The text to parse and, for each of its characters, the original index.

    Leading whitespace is dropped (Python would read it as an indent) and
    ``^`` becomes ``**``, so it is a power with the power's precedence.
    """
    out: list[str] = []
    index_map: list[int] = []
    first = len(text) - len(text.lstrip())
    for i in range(first, len(text)):
        ch = text[i]
        if ch == "^":
            out.append("**")
            index_map.extend((i, i))
        else:
            out.append(ch)
            index_map.append(i)
    index_map.append(len(text))  # the end of the text
    return "".join(out), index_map


def _check_brackets(text: str) -> None:
    """Refuse brackets nested deeper than :data:`MAX_DEPTH`."""
    level = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            level += 1
            if level > MAX_DEPTH:
                raise InputError(
                    f"parentheses nest deeper than {MAX_DEPTH} levels at "
                    f"{_location(_line_starts(text), i)}; simplify the formula "
                    "or split it into parts")
        elif ch in ")]}":
            level -= 1


def _syntax_error(text: str, parsed: str, index_map: list[int],
                  exc: SyntaxError) -> InputError:
    """An InputError for a SyntaxError of ``ast.parse``."""
    where, quoted = "", _quote(text)
    if exc.offset == 0:  # Python's mark for "the text ended too early"
        where = " at the end"
    elif exc.lineno is not None and exc.offset is not None and exc.offset > 0:
        starts = _line_starts(parsed)
        if exc.lineno <= len(starts):
            index = index_map[min(starts[exc.lineno - 1] + exc.offset - 1,
                                  len(index_map) - 1)]
            where = f" at {_location(_line_starts(text), index)}"
            if len(text) > _MAX_SNIPPET:  # quote the part around the error
                lo = max(0, index - _MAX_SNIPPET // 2)
                quoted = ("..." if lo else "") + _quote(text[lo:lo + _MAX_SNIPPET])
    reason = exc.msg or "invalid syntax"
    hint = _LAMBDA_HINT if _LAMBDA_RE.search(text) else ""
    return InputError(
        f"could not parse the formula {quoted}{where}: {reason}{hint}; check "
        "for a missing operand, operator or parenthesis")


def parse_formula(text: str, variables: Sequence[str] | None = None) -> sympy.Expr:
    """Read a formula into a sympy expression, without evaluating the text.

    Parameters
    ----------
    text : the formula, e.g. ``"G*m1*m2/r**2"`` or ``"a*exp(-x^2/2)"``; see
        the module documentation for what it may contain
    variables : the names the formula may use as variables; when given, a
        formula using any other name is refused (unused names are fine), and
        ``pi``/``E`` listed here are variables rather than constants

    Returns
    -------
    The sympy expression; names are plain :class:`sympy.Symbol`\\ s.

    Raises
    ------
    InputTypeError : ``text`` is not a string, or ``variables`` is not a list
        of strings
    InputError : the text cannot be parsed, contains anything outside the
        whitelist, is empty, longer than 1000 characters or nested deeper
        than 50 levels, or uses names not listed in ``variables``; the message
        quotes the offending part and its column
    """
    if not isinstance(text, str):
        raise InputTypeError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise InputError(f"the formula is {len(text)} characters long; the limit is "
                         f"{MAX_LENGTH}")
    if not text.strip():
        raise InputError("the formula is empty; write an expression such as 'a*x**2 + b'")
    if "\0" in text:
        raise InputError(f"the formula contains a null character at "
                         f"{_location(_line_starts(text), text.index(chr(0)))}; "
                         "remove it")
    known = _validate_variables(variables)
    if "\u00b7" in text:    # Python reads it as a letter: "m\u00b7a" would be one name
        raise InputError(f"the formula contains a middle dot '\u00b7' at "
                         f"{_location(_line_starts(text), text.index(chr(0xb7)))}; "
                         "write * for a product (m*a)")
    _check_brackets(text)
    parsed, index_map = _prepare(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(parsed, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(text, parsed, index_map, exc) from None
    except (RecursionError, MemoryError):
        raise InputError(f"the formula is too deeply nested to parse (more than "
                         f"{MAX_DEPTH} levels); simplify it or split it into parts") from None
    except ValueError as exc:  # e.g. characters Python cannot read
        raise InputError(f"could not parse the formula {_quote(text)}: {exc}") from None
    builder = _Builder(text, parsed, index_map, known)
    expr = builder.build(tree.body, 1)
    if builder.missing:
        listed = ", ".join(f"{n} ({builder.location(i)})" for n, i in builder.missing.items())
        given = ", ".join(known.values()) if known else "none"
        raise InputError(
            f"the formula uses names that are not in variables: {listed}; add them to "
            f"variables (given: {given}) or correct the formula")
    return expr

r"""The ``pysr`` method (PySR, symbolic regression in Julia), and reading PySR runs.

Availability
------------
``import pysr`` starts a Julia runtime through juliacall/juliapkg, and on a
machine where Julia or PySR's Julia packages are missing it tries to download
them.  :func:`available` therefore probes in a *subprocess*
(``python -c "import pysr"``, which starts Julia and loads SymbolicRegression)
with a time limit (20 s, or ``$KANDISCOVER_PYSR_PROBE_TIMEOUT`` seconds), in
an empty temporary working folder, and caches the answer per process and
juliapkg configuration.  The probe passes the juliapkg settings of the
environment through (``PYTHON_JULIAPKG_EXE``, ``PYTHON_JULIAPKG_PROJECT``,
``JULIA_DEPOT_PATH``, ``PYTHON_JULIAPKG_OFFLINE``) and sets
``PYTHON_JULIAPKG_OFFLINE=yes`` when the environment does not say otherwise:
a probe must never download Julia or packages (juliapkg installs them into
``<venv>/julia_env``, which is inside the project when the venv is, and a
download cut off by the time limit would leave a broken install).  PySR is
thus used when it was installed beforehand (``python -c "import pysr"`` once
with network access, or ``PYTHON_JULIAPKG_EXE`` naming a Julia that has the
packages); ``PYTHON_JULIAPKG_OFFLINE=no`` in the environment lets the probe
install, at the user's request.  :func:`run` sets the same default before it
imports PySR, so the search resolves the same installation the probe saw.

Reading a PySR run
------------------
:func:`load_pysr_run` reads the hall of fame that SymbolicRegression.jl
writes (``save_to_file`` in ``src/SearchUtils.jl``; PySR >= 1.0 puts it in
``outputs/<run_id>/hall_of_fame.csv`` and a copy ``hall_of_fame.csv.bak``)::

    Complexity,Loss,Equation
    1,10.214872,"0.9581152"
    8,1.9273685f-14,"(sin(x2) + ((x0 * x1) * 3.1000001))"

Equations are DynamicExpressions' ``string_tree(...; pretty=false)``: binary
``+ - * / ^`` infix and fully bracketed, other operators as calls
(``square(x0)``, ``neg(...)``, ``pow_abs(a, b)``), variables as named in the
search (``x0, x1, ...`` by default), Julia numbers (``1.5f-5`` for float32).
The text is read with the project's safe parser, never with ``sympify``; the
operator names PySR maps to sympy (``pysr/export_sympy.py``) are rewritten
first (``square(a)`` -> ``((a)^2)``, ``inv(a)`` -> ``(1/(a))``,
``safe_log`` -> ``log``, ...), and any other function is refused with its
file line.  An exported ``model.equations_`` table (lower-case columns) reads
the same way.  The checkpoint pickle is never opened.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import sympy

from ...errors import InputError
from ...symbolic.parse import MAX_DEPTH, MAX_LENGTH, parse_formula
from ..metrics import complexity
from .base import (Backend, BackendUnavailable, ParetoEntry, SRResult, finish,
                   validate_inputs)

__all__ = ["BACKEND", "run", "available", "load_pysr_run", "PYSR_SETTINGS"]

#: Environment variable with the probe's time limit in seconds.
PROBE_TIMEOUT_ENV = "KANDISCOVER_PYSR_PROBE_TIMEOUT"
DEFAULT_PROBE_TIMEOUT = 20.0
_PROBE_CODE = "import pysr; print('pysr', pysr.__version__)"
# The settings that decide what the probe finds (the cache key).
_JULIA_ENV = ("PYTHON_JULIAPKG_EXE", "PYTHON_JULIAPKG_OFFLINE", "PYTHON_JULIAPKG_PROJECT",
              "JULIA_DEPOT_PATH", "PATH")
_CACHE: dict[tuple, tuple[bool, str]] = {}

#: PySRRegressor settings (the operator set of the Operon method).
PYSR_SETTINGS: dict[str, Any] = {
    "binary_operators": ["+", "-", "*", "/", "^"],
    "unary_operators": ["sin", "cos", "exp", "log", "sqrt"],
    "niterations": 10**9,  # the time budget ends the search
    "model_selection": "best",
    "progress": False,
    "verbosity": 0,
}
_FIXED = ("timeout_in_seconds", "random_state", "deterministic", "parallelism", "procs",
          "output_directory", "run_id", "temp_equation_file", "variable_names")


# ------------------------------------------------------------------ availability
def _probe_timeout() -> float:
    text = os.environ.get(PROBE_TIMEOUT_ENV)
    if text is None:
        return DEFAULT_PROBE_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{PROBE_TIMEOUT_ENV}={text!r} must be a positive number of seconds")
    return value


def _probe_command() -> list[str]:
    return [sys.executable, "-c", _PROBE_CODE]


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the probe and whatever it started (it leads its own session)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except ProcessLookupError:
        pass


def _probe(env: dict[str, str], timeout: float, forced_offline: bool) -> tuple[bool, str]:
    hint = (" (probed offline: install Julia and PySR's packages once with network access "
            "by running python -c 'import pysr', or set PYTHON_JULIAPKG_EXE to a julia "
            "that has them)") if forced_offline else ""
    with tempfile.TemporaryDirectory(prefix="kandiscover-pysr-probe-") as work:
        try:
            proc = subprocess.Popen(_probe_command(), cwd=work, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, errors="replace",
                                    start_new_session=True)
        except OSError as exc:
            return False, f"PySR: could not start the probe {sys.executable}: {exc}"
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            return False, (f"PySR: its Julia runtime did not start within {timeout:g} s "
                           f"(timed out; set {PROBE_TIMEOUT_ENV} to wait longer)")
    if proc.returncode == 0:
        return True, (out.strip().splitlines() or ["pysr"])[-1]
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else f"exit status {proc.returncode}"
    if len(last) > 300:
        last = last[:297] + "..."
    if "No module named 'pysr'" in err or "No module named 'juliacall'" in err:
        return False, f"PySR is not installed ({last}); pip install pysr"
    if proc.returncode < 0:
        return False, f"PySR: the probe died with signal {-proc.returncode} ({last})"
    return False, f"PySR cannot start its Julia runtime: {last}{hint}"


def available(timeout: float | None = None) -> tuple[bool, str]:
    """Whether PySR and its Julia runtime start here, as ``(ok, reason)``.

    Probed once per process (and juliapkg configuration) in a subprocess
    with a time limit of ``timeout`` seconds (default 20 s or
    ``$KANDISCOVER_PYSR_PROBE_TIMEOUT``); never downloads unless
    ``PYTHON_JULIAPKG_OFFLINE=no`` is set.  ``reason`` is one line."""
    timeout = _probe_timeout() if timeout is None else float(timeout)
    if not (math.isfinite(timeout) and timeout > 0):
        raise InputError(f"the probe timeout must be a positive number of seconds, got {timeout}")
    env = dict(os.environ)
    forced_offline = "PYTHON_JULIAPKG_OFFLINE" not in env
    env.setdefault("PYTHON_JULIAPKG_OFFLINE", "yes")
    key = (tuple(env.get(k) for k in _JULIA_ENV), timeout, tuple(_probe_command()))
    if key not in _CACHE:
        _CACHE[key] = _probe(env, timeout, forced_offline)
    return _CACHE[key]


# ------------------------------------------------------------------ Julia text -> sympy
# PySR's operator names (pysr/export_sympy.py) as text the safe parser reads.
_UNARY = {
    "square": "(({0})^2)", "cube": "(({0})^3)", "neg": "(-({0}))", "inv": "(1/({0}))",
    "safe_log": "log({0})", "safe_sqrt": "sqrt({0})", "sqrt_abs": "sqrt(abs({0}))",
    "log_abs": "log(abs({0}))", "log1p": "log(1 + ({0}))", "safe_log1p": "log(1 + ({0}))",
    "log10": "(log({0})/log(10))", "safe_log10": "(log({0})/log(10))",
    "log2": "(log({0})/log(2))", "safe_log2": "(log({0})/log(2))",
}
_UNARY.update({f: f + "({0})" for f in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs",
                                       "tanh", "sinh", "cosh", "asin", "acos", "atan",
                                       "atanh")})
_BINARY = {
    "pow": "(({0})^({1}))", "safe_pow": "(({0})^({1}))", "pow_abs": "((abs({0}))^({1}))",
    "plus": "(({0}) + ({1}))", "sub": "(({0}) - ({1}))", "mult": "(({0})*({1}))",
    "div": "(({0})/({1}))",
}
_TOKEN = re.compile(r"\s+|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eEfF][+-]?\d+)?)"
                    r"|(?P<name>[^\W\d]\w*)|(?P<other>.)")
_NONFINITE = {"Inf", "NaN", "Inf32", "NaN32", "Inf16", "NaN16", "inf", "nan"}


class _Rewriter:
    """Julia ``string_tree`` text -> text for :func:`parse_formula` (+ the names used)."""

    def __init__(self, text: str, where: str) -> None:
        self.where = where
        if len(text) > MAX_LENGTH:
            self.fail(f"the equation is {len(text)} characters long; the limit is {MAX_LENGTH}")
        self.tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _TOKEN.finditer(text)
                       if m.lastgroup]
        self.i = 0
        self.calls = 0  # nesting of calls
        self.names: set[str] = set()

    def fail(self, message: str) -> None:
        raise InputError(f"{self.where}: {message}")

    def rewrite(self, stop: str = "") -> str:
        """Tokens up to an unbracketed ``,`` or ``)`` (not consumed) when ``stop``."""
        out: list[str] = []
        depth = 0
        prev = None  # kind of the previous token: None, 'op', 'value'
        while self.i < len(self.tokens):
            kind, tok = self.tokens[self.i]
            if stop and depth == 0 and tok in (",", ")"):
                break
            self.i += 1
            if kind == "num":
                out.append(re.sub(r"[fF]", "e", tok))
                prev = "value"
            elif kind == "name":
                if self.i < len(self.tokens) and self.tokens[self.i][1] == "(":
                    out.append(self.call(tok))
                else:
                    if tok in _NONFINITE:
                        self.fail(f"the equation has the non-finite constant {tok}")
                    self.names.add(tok)
                    out.append(tok)
                prev = "value"
            elif tok == "-" and prev != "value" and self.i < len(self.tokens) \
                    and self.tokens[self.i][0] == "num":
                # a negative constant leaf (Julia prints "(-0.5 ^ x0)"): keep it whole
                out.append(f"(-{re.sub(r'[fF]', 'e', self.tokens[self.i][1])})")
                self.i += 1
                prev = "value"
            else:
                depth += {"(": 1, ")": -1}.get(tok, 0)
                out.append(tok)
                prev = "value" if tok == ")" else "op"
        return "".join(f" {t} " if t in ("+", "-", "*", "/", "^") else ", " if t == ","
                       else t for t in out)

    def call(self, name: str) -> str:
        self.i += 1  # "("
        self.calls += 1
        if self.calls > MAX_DEPTH:
            self.fail(f"the equation nests calls deeper than {MAX_DEPTH} levels")
        args = [self.rewrite(stop=",)")]
        while self.i < len(self.tokens) and self.tokens[self.i][1] == ",":
            self.i += 1
            args.append(self.rewrite(stop=",)"))
        self.calls -= 1
        if self.i >= len(self.tokens):
            self.fail(f"the call {name}(...) has no closing parenthesis")
        self.i += 1  # ")"
        table = {1: _UNARY, 2: _BINARY}.get(len(args), {})
        if name not in table:
            known = sorted(set(_UNARY) | set(_BINARY))
            other = _BINARY if len(args) == 1 else _UNARY
            extra = (f" (it takes {2 if len(args) == 1 else 1} argument(s))"
                     if name in other else "")
            self.fail(f"the operator {name}() with {len(args)} argument(s) cannot be read "
                      f"into a formula{extra}; the operators read are {', '.join(known)}")
        return table[name].format(*args)


def _front(rows: list[tuple[int, int, float, str]], where: str,
           variables: Sequence[str] | None, positional: bool) -> list[ParetoEntry]:
    """Pareto entries of ``(line, complexity, loss, equation)`` rows.

    Variables: with ``variables`` None the names are used as written; else
    names are either all in ``variables`` or, like PySR's defaults, all of
    the form ``x<i>`` and mapped to ``variables[i]`` (always with
    ``positional``)."""
    texts = []
    used: set[str] = set()
    for line, _, _, text in rows:
        rw = _Rewriter(text, f"{where}, line {line}")
        texts.append((rw.rewrite(), rw.names))
        used |= rw.names
    rename: dict[str, str] = {}
    if variables is not None:
        variables = list(variables)
        index = {f"x{i}": v for i, v in enumerate(variables)}
        if positional or not used <= set(variables):
            unknown = sorted(used - set(index))
            if unknown:
                raise InputError(
                    f"{where}: the equations use {', '.join(unknown)}, which are not among "
                    f"the variables {variables} (PySR names the columns x0, x1, ... unless "
                    "given variable_names)")
            rename = {n: index[n] for n in used}
    entries = []
    for (line, c, loss, _), (text, names) in zip(rows, texts):
        try:
            expr = parse_formula(text, variables=sorted(names))
        except InputError as exc:
            raise InputError(f"{where}, line {line}: {exc}") from None
        if rename:
            expr = expr.xreplace({sympy.Symbol(n): sympy.Symbol(rename[n]) for n in names})
        entries.append(ParetoEntry(c, loss, expr))
    return entries


def _choose_best(entries: list[ParetoEntry]) -> int:
    """PySR's ``model_selection="best"`` (``pysr.sr.idx_model_selection``).

    With the front sorted by complexity, the score of entry i is
    ``-log(loss_i / loss_{i-1}) / (c_i - c_{i-1})`` (0 for the first, inf
    for loss 0); among the entries with ``loss <= 1.5 * min(loss)`` the
    highest score wins (the first of ties)."""
    losses = np.array([e.loss for e in entries], dtype=float)
    comp = np.array([e.complexity for e in entries], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.zeros(len(entries))
        ratio = losses[1:] / losses[:-1]
        scores[1:] = np.where(losses[1:] > 0, -np.log(ratio) / (comp[1:] - comp[:-1]), np.inf)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    ok = np.flatnonzero(losses <= 1.5 * np.min(losses))
    return int(ok[np.argmax(scores[ok])])


# ------------------------------------------------------------------ files
def _equation_file(path: Path) -> Path:
    """The hall-of-fame CSV of a file or run folder (never the pickle)."""
    if not path.exists():
        raise InputError(f"{path} does not exist; pass a PySR hall_of_fame.csv or the run "
                         "folder outputs/<run_id> that holds it")
    if path.is_file():
        if path.suffix in (".pkl", ".pickle"):
            raise InputError(f"{path} is a pickle, which load_pysr_run never opens (loading "
                             "it could run code); pass the hall_of_fame.csv next to it")
        return path
    # PySR >= 1.0: outputs/<run_id>/hall_of_fame.csv and .bak (PySR reads the .bak first)
    for name in ("hall_of_fame.csv.bak", "hall_of_fame.csv"):
        if (path / name).is_file():
            return path / name
    multi = sorted(p.name for p in path.glob("hall_of_fame_output*.csv"))
    if multi:
        raise InputError(f"{path} holds a run with {len(multi)} outputs ({', '.join(multi)}); "
                         "pass the file of one output")
    # older PySR: hall_of_fame_<date>.csv (and .csv.bkup)
    old = sorted(path.glob("hall_of_fame_*.csv")) or sorted(path.glob("hall_of_fame_*.csv.bkup"))
    runs = sorted(p.parent for p in path.glob("*/hall_of_fame.csv*"))
    runs = sorted(set(runs))
    found = old if old else runs
    if len(found) == 1:
        return _equation_file(found[0])
    if len(found) > 1:
        raise InputError(f"{path} holds {len(found)} PySR runs "
                         f"({', '.join(p.name for p in found)}); pass one of them")
    raise InputError(f"{path} has no hall_of_fame.csv (PySR >= 1.0 writes "
                     "outputs/<run_id>/hall_of_fame.csv)")


def _read_rows(file: Path) -> list[tuple[int, int, float, str]]:
    """``(line, complexity, loss, equation)`` of a hall-of-fame CSV."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text; is it a PySR hall_of_fame.csv?") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise InputError(f"{file} is empty; a PySR hall of fame starts with the header "
                         "Complexity,Loss,Equation")
    names = [h.strip().lower() for h in header]
    cols = {}
    for col in ("complexity", "loss", "equation"):
        if col not in names:
            raise InputError(f"{file}: the header {','.join(header)} has no "
                             f"{col.capitalize()} column; a PySR hall of fame has the "
                             "columns Complexity, Loss, Equation")
        cols[col] = names.index(col)
    rows = []
    for record in reader:
        line = reader.line_num
        if not any(f.strip() for f in record):
            continue
        if len(record) != len(header):
            raise InputError(f"{file}, line {line}: {len(record)} fields for the "
                             f"{len(header)} columns of the header")
        c_text = record[cols["complexity"]].strip()
        l_text = re.sub(r"(?<=\d)[fF](?=[+-]?\d)", "e", record[cols["loss"]].strip())
        try:
            c = int(c_text)
        except ValueError:
            raise InputError(f"{file}, line {line}: Complexity {c_text!r} is not a whole "
                             "number") from None
        try:
            loss = float(l_text)
        except ValueError:
            raise InputError(f"{file}, line {line}: Loss {l_text!r} is not a number") from None
        if c < 1 or math.isnan(loss):
            raise InputError(f"{file}, line {line}: complexity {c} and loss {loss} must be "
                             "at least 1 and a number")
        rows.append((line, c, loss, record[cols["equation"]]))
    if not rows:
        raise InputError(f"{file} has a header but no equations (the search stopped before "
                         "its first iteration?)")
    return sorted(rows, key=lambda r: r[1])


def _check_variables(variables: Any) -> list[str] | None:
    if variables is None:
        return None
    if isinstance(variables, (str, bytes)):
        raise InputError(f"variables must be a list of names such as ['x', 'y'], got "
                         f"{variables!r}")
    variables = list(variables)
    bad = [v for v in variables if not (isinstance(v, str) and v.isidentifier())]
    if bad:
        raise InputError(f"variable names must be identifiers, got {bad}")
    return variables


def load_pysr_run(path: str | os.PathLike, variables: Sequence[str] | None = None,
                  X: Any = None, y: Any = None) -> SRResult:
    """Import a PySR run made elsewhere, to score its formulas in our tables.

    Parameters
    ----------
    path : a hall-of-fame CSV (``hall_of_fame.csv``, its ``.bak``, an older
        ``hall_of_fame_<date>.csv``, or an exported ``equations_`` table), or a
        run folder ``outputs/<run_id>`` (its ``hall_of_fame.csv.bak`` is read
        first, as PySR does), or an ``outputs`` folder with a single run.
        The checkpoint pickle is never opened.
    variables : the variable names; the file's names must be among them, or
        be PySR's default ``x0, x1, ...``, which then stand for
        ``variables[0], variables[1], ...``.  None: the names as written.
    X, y : optional training data (columns in the order of ``variables``,
        or of ``x0, x1, ...``) for the chosen formula's ``train_r2``.

    Returns
    -------
    SRResult with ``method="pysr"``; the formula PySR's ``model_selection=
    "best"`` picks (highest score ``-d log(loss) / d complexity`` among
    those with ``loss <= 1.5 * min(loss)``); ``complexity`` counts sympy
    nodes, while ``pareto`` keeps PySR's own complexities and losses,
    simplest first; ``train_r2`` and ``seconds`` are NaN unless X and y are
    given (``seconds`` always: the search time is not in the file); ``raw``
    has ``source``, ``file``, ``rows`` and the chosen row.

    Raises
    ------
    InputError : missing file or column, a row that is not a number or a
        formula, an operator with no sympy form (named with its file line)
    """
    try:
        source = Path(path)
    except TypeError:
        raise InputError(f"path must be a file or folder name, got {path!r}") from None
    variables = _check_variables(variables)
    data = None
    if (X is None) != (y is None):
        raise InputError("pass both X and y to compute the training R^2, or neither")
    if X is not None:
        from ..._validation import check_Xy

        Xa, ya = check_Xy(X, y)
        if variables is None:
            variables = [f"x{i}" for i in range(Xa.shape[1])]
        if len(variables) != Xa.shape[1]:
            raise InputError(f"{len(variables)} variable names for {Xa.shape[1]} columns of X")
        data = (Xa, ya.reshape(-1))
    file = _equation_file(source)
    rows = _read_rows(file)
    entries = _front(rows, str(file), variables, positional=False)
    best = _choose_best(entries)
    chosen = entries[best]
    raw = {"source": str(source), "file": str(file), "rows": len(entries),
           "chosen_line": rows[best][0], "pysr_complexity": chosen.complexity,
           "loss": chosen.loss, "equation": rows[best][3]}
    if data is None:
        return SRResult("pysr", chosen.expression, complexity(chosen.expression), entries,
                        float("nan"), float("nan"), raw)
    result = finish("pysr", chosen.expression, entries, data[0], data[1], variables,
                    time.perf_counter(), raw)
    return dataclasses.replace(result, seconds=float("nan"))


# ------------------------------------------------------------------ the method
def run(X: Any, y: Any, variables: Sequence[str], time_budget: float, seed: int,
        **settings: Any) -> SRResult:
    """PySR's search for ``time_budget`` seconds (one thread, deterministic).

    ``PySRRegressor(timeout_in_seconds=time_budget, random_state=seed,
    deterministic=True, parallelism="serial")`` with :data:`PYSR_SETTINGS`
    (keyword arguments replace those); its files go to a temporary folder.
    Julia's start and compilation come on top of the budget; ``seconds``
    counts from the fit.  The columns are passed to PySR as ``x0, x1, ...``
    (PySR refuses names that are sympy functions, such as ``gamma`` or
    ``E``) and renamed back.  The formula is PySR's ``"best"``.

    Raises
    ------
    BackendUnavailable : PySR or its Julia runtime cannot start here (the
        reason of :func:`available`)
    """
    Xa, ya, variables = validate_inputs(X, y, variables, time_budget, seed)
    fixed = sorted(k for k in settings if k in _FIXED)
    if fixed:
        raise InputError(f"the PySR settings {', '.join(fixed)} are set by the method "
                         "(time budget, seed, one thread, temporary output); leave them out")
    ok, reason = available()
    if not ok:
        raise BackendUnavailable(reason)
    os.environ.setdefault("PYTHON_JULIAPKG_OFFLINE", "yes")  # as the probe saw it
    from pysr import PySRRegressor

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kandiscover-pysr-") as out:
        model = PySRRegressor(**{**PYSR_SETTINGS, **settings},
                              timeout_in_seconds=float(time_budget), random_state=int(seed),
                              deterministic=True, parallelism="serial",
                              output_directory=out, run_id="run")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(Xa, ya)
        table = model.equations_
    rows = sorted(((i + 1, int(r.complexity), float(r.loss), str(r.equation))
                   for i, r in enumerate(table.itertuples())), key=lambda r: r[1])
    entries = _front(rows, "PySR's equations_", variables, positional=True)
    best = _choose_best(entries)
    raw = {"equations": [[r[1], r[2], r[3]] for r in rows], "chosen": best,
           "settings": {k: v for k, v in {**PYSR_SETTINGS, **settings}.items()
                        if isinstance(v, (str, int, float, bool, list))}}
    return finish("pysr", entries[best].expression, entries, Xa, ya, variables, started, raw)


BACKEND = Backend("pysr", run, available)

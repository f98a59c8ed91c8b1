"""Data tables for discovery: CSV files and HDF5 files of columns.

:func:`read_table` returns the input columns ``X`` (n, d), the target ``y``
(n,) and the names of the inputs.  Two file kinds are read:

* **CSV** (``.csv``): a header row of column names, then one row per sample.
  Every column must be numeric and have no empty or NaN cells.
* **HDF5** (``.h5``, ``.hdf5``), in one of two layouts:

  - a plain table of columns: every 1-D dataset at the root is a column
    named after the dataset, all of the same length;
  - the tabular dataset layout: datasets ``/X`` (n, d) and ``/y`` (n,) or
    (n, k), a root attribute ``feature_names`` (d names) and optionally
    ``target_names`` (k names).  ``target`` names one of ``target_names``;
    without that attribute ``y`` is one column and ``target`` must be ``"y"``.

Every problem a user can cause raises :class:`~kandiscover.errors.InputError`
with a message that names the file and the column.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["read_table", "CSV_SUFFIXES", "HDF5_SUFFIXES"]

CSV_SUFFIXES = (".csv",)
HDF5_SUFFIXES = (".h5", ".hdf5")
_MAX_ROWS_SHOWN = 5


def read_table(path: str | os.PathLike, target: str
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a table of samples and split it into inputs and target.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.h5`` or ``.hdf5`` file (see the module docstring).
    target : str
        Name of the column to explain.

    Returns
    -------
    X : numpy.ndarray, float64, shape (n, d)
        The other columns, in file order (HDF5: dataset-name order).
    y : numpy.ndarray, float64, shape (n,)
    feature_names : list of str
        The names of the columns of ``X``.

    Raises
    ------
    InputError
        Missing file, unknown suffix, unreadable file, missing target column
        (the message lists the columns), non-numeric columns, columns of
        different lengths, empty, NaN or infinite cells, fewer than 2 columns.
    """
    path = Path(path)
    if not isinstance(target, str) or not target:
        raise InputError(f"target must be a column name, got {target!r}")
    if not path.exists():
        raise InputError(f"data file {path} does not exist")
    if path.is_dir():
        raise InputError(f"data file {path} is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        names, columns = _read_csv(path)
        return _split(path, names, columns, target)
    if suffix in HDF5_SUFFIXES:
        return _read_hdf5(path, target)
    known = ", ".join(CSV_SUFFIXES + HDF5_SUFFIXES)
    raise InputError(f"cannot read {path}: unknown data file type "
                     f"{suffix or '(no suffix)'!r}; use one of {known}")


# ----------------------------------------------------------------- checks
def _rows(idx: np.ndarray) -> str:
    """'rows 3, 7, ... (12 in all)', counting data rows from 1."""
    shown = ", ".join(str(int(i) + 1) for i in idx[:_MAX_ROWS_SHOWN])
    more = f", ... ({len(idx)} in all)" if len(idx) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more}"


def _check_columns(path: Path, names: list[str], columns: list[np.ndarray]) -> None:
    """Equal lengths, at least one row, no NaN or infinite cells."""
    lengths = {name: len(col) for name, col in zip(names, columns)}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n!r} ({k})" for n, k in lengths.items())
        raise InputError(f"{path}: the columns have different lengths: {listed}")
    if not columns or len(columns[0]) == 0:
        raise InputError(f"{path} has no data rows")
    problems = []
    for name, col in zip(names, columns):
        nan = np.flatnonzero(np.isnan(col))
        if len(nan):
            problems.append(f"column {name!r} has {len(nan)} empty or NaN "
                            f"cell{'s' if len(nan) > 1 else ''} ({_rows(nan)})")
        inf = np.flatnonzero(np.isinf(col))
        if len(inf):
            problems.append(f"column {name!r} has {len(inf)} infinite "
                            f"value{'s' if len(inf) > 1 else ''} ({_rows(inf)})")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))


def _split(path: Path, names: list[str], columns: list[np.ndarray], target: str
           ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pick the target out of a list of named columns (already numeric)."""
    if target not in names:
        raise InputError(f"{path} has no column {target!r}; its columns are "
                         + ", ".join(repr(n) for n in names))
    if len(names) < 2:
        raise InputError(f"{path} has only the column {target!r}; at least one input "
                         "column besides the target is needed")
    if names.count(target) > 1:
        raise InputError(f"{path} has {names.count(target)} columns named {target!r}")
    _check_columns(path, names, columns)
    k = names.index(target)
    features = [n for i, n in enumerate(names) if i != k]
    X = np.column_stack([c for i, c in enumerate(columns) if i != k]).astype(np.float64)
    y = np.ascontiguousarray(columns[k], dtype=np.float64)
    return np.ascontiguousarray(X), y, features


def _numeric(values: np.ndarray) -> bool:
    return values.dtype != object and (np.issubdtype(values.dtype, np.number)
                                       or values.dtype == np.bool_) \
        and not np.iscomplexobj(values)


# -------------------------------------------------------------------- CSV
def _csv_header(path: Path) -> list[str]:
    """The first row's names as written (pandas renames repeated ones)."""
    import csv
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(next(csv.reader(f), []))


def _read_csv(path: Path) -> tuple[list[str], list[np.ndarray]]:
    import pandas as pd

    try:
        # the exact float each number's text names: pandas 2's default parser
        # can be one unit in the last place off; pandas 3's is exact (and
        # deprecates the option)
        exact = ({"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3
                 else {})
        with warnings.catch_warnings():
            # index_col=False: a row longer than the header is an error below, not
            # a first column silently taken for the row labels
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, **exact)
    except pd.errors.ParserWarning:
        raise InputError(f"{path} has rows with more fields than its header has column "
                         "names (a trailing comma, or a column without a name)") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty (no header row of column names)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} could not be read as CSV: {first}") from None
    names = [str(c) for c in frame.columns]
    header = _csv_header(path)
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:      # pandas would have renamed them 'y.1', ...
        raise InputError(f"{path} has " + ", ".join(
            f"{header.count(n)} columns named {n!r}" for n in repeated)
            + "; each column needs its own name")
    if len(names) < 2:
        raise InputError(f"{path} has {len(names)} column{'s' if len(names) != 1 else ''} "
                         f"({', '.join(repr(n) for n in names)}); a table needs at least "
                         "2 (inputs and a target), separated by commas")
    if len(frame) == 0:
        raise InputError(f"{path} has no data rows (only the header)")
    bad = [n for n, c in zip(names, frame.columns)
           if not (pd.api.types.is_numeric_dtype(frame[c]) or
                   pd.api.types.is_bool_dtype(frame[c]))]
    if bad:
        details = []
        for name in bad:
            col = frame[name]
            num = pd.to_numeric(col, errors="coerce")
            rows = np.flatnonzero(num.isna().to_numpy() & col.notna().to_numpy())
            if len(rows):
                first = str(col.iloc[rows[0]])
                details.append(f"column {name!r} has non-numeric cells in {_rows(rows)} "
                               f"(e.g. {first[:20]!r})")
            else:
                details.append(f"column {name!r} is not numeric")
        raise InputError(f"{path}: " + "; ".join(details) + "; every cell must be a number")
    columns = [frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in frame.columns]
    return names, columns


# ------------------------------------------------------------------- HDF5
def _names_attr(value: Any, what: str, path: Path) -> list[str]:
    """A list of names from an HDF5 attribute: array of str/bytes or a JSON list."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = [value]
        value = parsed if isinstance(parsed, list) else [value]
    arr = np.atleast_1d(np.asarray(value, dtype=object))
    if arr.ndim != 1:
        raise InputError(f"{path}: attribute {what} must be a list of names, "
                         f"got shape {arr.shape}")
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr]


def _read_hdf5(path: Path, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import h5py

    if not h5py.is_hdf5(path):
        raise InputError(f"{path} is not an HDF5 file (or it is truncated); "
                         "save the table as CSV or HDF5")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path} could not be read as HDF5 ({exc}); the file may be "
                         "truncated or damaged") from None
    try:
        with f:
            X_node, y_node = f.get("X"), f.get("y")
            if isinstance(X_node, h5py.Dataset) and isinstance(y_node, h5py.Dataset) \
                    and X_node.ndim == 2:
                return _read_xy(path, f, X_node, y_node, target)
            return _read_columns(path, f, target)
    except OSError as exc:
        raise InputError(f"{path} could not be read as HDF5 ({exc}); the file may be "
                         "truncated or damaged") from None


def _read_xy(path: Path, f, X_node, y_node, target: str
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The tabular layout: /X (n, d), /y (n,) or (n, k), feature_names, target_names."""
    if "feature_names" not in f.attrs:
        raise InputError(f"{path} has datasets /X and /y but no root attribute "
                         "feature_names naming the columns of /X")
    features = _names_attr(f.attrs["feature_names"], "feature_names", path)
    n, d = X_node.shape
    if len(features) != d:
        raise InputError(f"{path}: feature_names has {len(features)} names but /X has "
                         f"{d} columns")
    if y_node.ndim not in (1, 2):
        raise InputError(f"{path}: /y must be 1-D or 2-D, got shape {y_node.shape}")
    k = 1 if y_node.ndim == 1 else y_node.shape[1]
    if "target_names" in f.attrs:
        targets = _names_attr(f.attrs["target_names"], "target_names", path)
        if len(targets) != k:
            raise InputError(f"{path}: target_names has {len(targets)} names but /y has "
                             f"{k} column{'s' if k != 1 else ''}")
    elif k == 1:
        targets = ["y"]
    else:
        raise InputError(f"{path}: /y has {k} columns but the file has no root attribute "
                         "target_names to tell them apart")
    if target not in targets:
        extra = (f" (the input columns of /X are {', '.join(repr(n) for n in features)})"
                 if target in features else "")
        raise InputError(f"{path} has no target {target!r}; its targets are "
                         + ", ".join(repr(t) for t in targets) + extra)
    if d < 1:
        raise InputError(f"{path}: /X has no columns; at least one input is needed")
    X, Y = X_node[()], y_node[()]
    for name, arr in (("/X", X), ("/y", Y)):
        if not _numeric(arr):
            raise InputError(f"{path}: dataset {name} is not numeric (dtype {arr.dtype})")
    if len(Y) != n:
        raise InputError(f"{path}: /X has {n} rows but /y has {len(Y)}")
    Y = Y.reshape(n, -1)
    names = features + [target]
    columns = [X[:, i].astype(np.float64) for i in range(d)]
    columns.append(Y[:, targets.index(target)].astype(np.float64))
    _check_columns(path, names, columns)
    Xa = np.ascontiguousarray(X, dtype=np.float64)
    return Xa, columns[-1].copy(), features


def _read_columns(path: Path, f, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The plain layout: every 1-D dataset at the root is a column."""
    import h5py

    names, datasets = [], []
    for name, node in f.items():
        if isinstance(node, h5py.Dataset) and node.ndim == 1:
            names.append(name)
            datasets.append(node)
    if target not in names:
        node = f.get(target)
        if isinstance(node, h5py.Dataset):
            raise InputError(f"{path}: dataset {target!r} has shape {node.shape}; a column "
                             "must be a 1-D dataset at the root of the file")
        if not names:
            raise InputError(f"{path} holds no table: expected 1-D datasets at the root "
                             "(one per column) or datasets /X and /y with a root "
                             "attribute feature_names")
        raise InputError(f"{path} has no column {target!r}; its columns are "
                         + ", ".join(repr(n) for n in names))
    if len(names) < 2:
        raise InputError(f"{path} has only the column {target!r}; at least one input "
                         "column besides the target is needed")
    bad = [n for n, ds in zip(names, datasets)
           if not (np.issubdtype(ds.dtype, np.number) or ds.dtype == np.bool_)
           or np.issubdtype(ds.dtype, np.complexfloating)]
    if bad:
        raise InputError(f"{path}: non-numeric column{'s' if len(bad) > 1 else ''} "
                         + ", ".join(repr(n) for n in bad)
                         + "; every column must hold numbers")
    columns = [np.asarray(ds[()], dtype=np.float64) for ds in datasets]
    return _split(path, names, columns, target)

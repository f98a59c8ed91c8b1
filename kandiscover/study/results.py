"""results.h5: one study's finished runs, written atomically after each run.

Layout::

    /                      attrs: kind, format_version, study, definition (JSON)
    /runs/<key>            attrs: every scalar/JSON field of the run
    /runs/<key>/<array>    the run's arrays (predictions, weights, ...)
    /extra/<name>          attrs and arrays of study-level results (analyses)

Every :meth:`ResultStore.add` writes a complete new file next to the old one
and renames it over the old one, so a crash at any moment leaves either the
previous file or the new one, never a half-written one.  The ``definition``
(everything that changes what a run computes, except which seeds or tasks are
run) is fixed at creation; opening the file with a different definition is
refused, so results of different studies never mix.  A study that lets part of
its definition change (the pendulum study's per-method settings) does so with
:meth:`ResultStore.redefine`, which drops the runs made under the old part in
the same atomic rewrite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..data.store import atomic_path
from ..errors import InputError

__all__ = ["ResultStore", "RESULTS_FORMAT_VERSION", "differences"]

RESULTS_FORMAT_VERSION = 1
_KIND = "kandiscover.study"


def _json_default(o: Any) -> Any:
    return o.tolist() if isinstance(o, (np.ndarray, np.generic)) else float(o)


def _attr_value(v: Any) -> Any:
    """An HDF5 attribute for ``v``; anything but a plain number or string (and
    a string that itself starts with ``json:``) goes as ``json:`` + JSON."""
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)) and not -2 ** 63 <= v < 2 ** 63:
        return "json:" + json.dumps(int(v))
    if isinstance(v, (bool, int, float, np.integer, np.floating)) or (
            isinstance(v, str) and not v.startswith("json:")):
        return v
    return "json:" + json.dumps(v, sort_keys=True, default=_json_default)


def _read_attr(v: Any) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str) and v.startswith("json:"):
        return json.loads(v[5:])
    if isinstance(v, np.generic):
        return v.item()
    return v


def _header(path: Path) -> tuple[Any, Any, Any]:
    """(kind, study, definition) stored in a results file's root attributes."""
    try:
        with h5py.File(path, "r") as f:
            return tuple(_read_attr(f.attrs.get(name, default)) for name, default in (
                ("kind", ""), ("study", ""), ("definition", "json:null")))
    except OSError as exc:
        raise InputError(f"{path} is not a readable HDF5 results file ({exc})") from None


def _canonical(definition: dict) -> str:
    return json.dumps(definition, sort_keys=True, default=float)


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths (``"config.train.epochs"``) of the leaves where two JSON-like
    values differ; dicts are compared key by key, anything else as a whole (by
    ``==``: 1 and 1.0 are the same setting)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    same = old == new or _canonical(old) == _canonical(new)      # the latter for NaN
    return [] if same else [prefix.rstrip(".") or "(all)"]


def _entry(g: h5py.Group, arrays: bool = True) -> dict[str, Any]:
    out = {k: _read_attr(v) for k, v in g.attrs.items()}
    if arrays:
        out["arrays"] = {k: g[k][()] for k in g}
    return out



def study_folder(out: str | os.PathLike) -> Path:
    """``out`` as the Path of a study's output folder; refuses a file of that name
    (the folder is made when the first file is written)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; a study writes into a folder (results.h5, "
                         "report.md, figures), so give a folder name")
    return out

class ResultStore:
    """The results file of one study (see the module docstring).

    Parameters
    ----------
    path : the HDF5 file (created with its folder on the first write)
    study : the study's name, e.g. ``"pendulum"``
    definition : JSON-able dict fixing what the runs compute
    """

    def __init__(self, path: str | os.PathLike, study: str, definition: dict):
        self.path = Path(path)
        self.study = study
        self.definition = json.loads(_canonical(definition))
        if self.path.exists():
            self._check()

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ResultStore":
        """An existing results file, with the study name and definition it holds."""
        path = Path(path)
        if path.is_dir():
            path = path / "results.h5"
        if not path.is_file():
            raise InputError(f"{path} does not exist; run the study first")
        kind, study, definition = _header(path)
        if kind != _KIND:
            raise InputError(f"{path} is not a kandiscover results file (kind {kind!r})")
        return cls(path, study, definition)

    def _check(self) -> None:
        kind, study, old = _header(self.path)
        if kind != _KIND or study != self.study:
            raise InputError(f"{self.path} is not a results file of the {self.study!r} study "
                             f"(kind {kind!r}, study {study!r}); choose another --out")
        diff = differences(old or {}, self.definition)
        if diff:
            raise InputError(f"{self.path} holds results of a different study definition "
                             f"(differs in: {', '.join(diff)}); refusing to mix them: use "
                             "another --out folder or delete the file")

    # ------------------------------------------------------------- reading
    def keys(self) -> list[str]:
        """Keys of the stored runs, in the order they were added."""
        if not self.path.exists():
            return []
        with h5py.File(self.path, "r") as f:
            return list(f["runs"]) if "runs" in f else []

    def get(self, key: str, group: str = "runs") -> dict[str, Any]:
        """One stored entry: its attributes, and its arrays under ``"arrays"``."""
        with h5py.File(self.path, "r") as f:
            return _entry(f[f"{group}/{key}"])

    def runs(self, arrays: bool = True) -> list[dict[str, Any]]:
        """Every stored run (as :meth:`get`, plus its ``"key"``), read in one
        pass; ``arrays=False`` reads the attributes only (no predictions or
        weights)."""
        if not self.path.exists():
            return []
        with h5py.File(self.path, "r") as f:
            return [dict(_entry(g, arrays), key=k) for k, g in f["runs"].items()
                    ] if "runs" in f else []

    def has(self, key: str, group: str = "runs") -> bool:
        if not self.path.exists():
            return False
        with h5py.File(self.path, "r") as f:
            return f"{group}/{key}" in f

    # ------------------------------------------------------------- writing
    def _rewrite(self, edit, drop: dict[str, frozenset[str]] | None = None) -> None:
        """Write a new file holding the old one's content (less the ``drop``
        entries, ``{group: keys}``), let ``edit`` change it, and rename it over
        the old one."""
        drop = {g: keys for g, keys in (drop or {}).items() if keys}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path, suffix=".h5") as tmp, \
                h5py.File(tmp, "w", track_order=True) as new:
            if self.path.exists():
                with h5py.File(self.path, "r") as old:
                    for k, v in old.attrs.items():
                        new.attrs[k] = v
                    for name in old:
                        if name not in drop:
                            new.copy(old[name], name)
                            continue
                        g = new.create_group(name, track_order=True)
                        for k in old[name]:
                            if k not in drop[name]:
                                g.copy(old[name][k], k)
            else:
                new.attrs["kind"] = _KIND
                new.attrs["study"] = self.study
                new.attrs["format_version"] = RESULTS_FORMAT_VERSION
                new.attrs["definition"] = "json:" + _canonical(self.definition)
            edit(new)

    def remove(self, keys: list[str], group: str = "runs") -> list[str]:
        """Delete entries (e.g. to run them again); returns the keys that were
        there.  The file is rewritten atomically."""
        if not self.path.exists():
            return []
        with h5py.File(self.path, "r") as f:
            present = [k for k in keys if group in f and k in f[group]]
        if present:
            self._rewrite(lambda new: None, {group: frozenset(present)})
        return present

    def redefine(self, definition: dict, drop: dict[str, list[str]] | None = None) -> None:
        """Replace the stored definition with ``definition`` and delete the
        ``drop`` entries (``{group: keys}``, e.g. the runs made under the old
        one) in one atomic rewrite: a crash leaves the old definition with all
        its entries, or the new one without those."""
        self.definition = json.loads(_canonical(definition))
        if not self.path.exists():
            return

        def edit(new: h5py.File) -> None:
            new.attrs["definition"] = "json:" + _canonical(self.definition)

        self._rewrite(edit, {g: frozenset(keys) for g, keys in (drop or {}).items()})

    def add(self, key: str, attrs: dict[str, Any], arrays: dict[str, np.ndarray] | None = None,
            group: str = "runs") -> None:
        """Store (or replace) one entry and rewrite the file atomically."""
        if "/" in key or not key:
            raise InputError(f"a result key must be a non-empty name without '/', got {key!r}")

        def edit(new: h5py.File) -> None:
            parent = new[group] if group in new else new.create_group(group, track_order=True)
            g = parent.create_group(key, track_order=True)    # _rewrite dropped the old one
            for k, v in attrs.items():
                g.attrs[k] = _attr_value(v)
            for k, a in (arrays or {}).items():
                a = np.asarray(a)
                g.create_dataset(k, data=a, compression="gzip" if a.ndim else None)

        self._rewrite(edit, {group: frozenset([key])})

"""HDF5 dataset files: tables and sequences (schema in ``datasets/README.md``).

Tabular dataset (``kind = "table"``)::

    /X            (n, d) float64 inputs
    /y            (n,) or (n, k) float64 targets
    root attrs    kind, format_version, feature_names, target_names,
                  formula (optional), units (optional, JSON {name: unit}),
                  source, seed, noise, plus any extra attribute

Sequence dataset (``kind = "sequences"``): named groups of named arrays, the
first axis of every array in a group indexing sequences::

    /sequences/<name>   (n_seq, n_steps) observed channels (theta, omega, ...)
    /hidden/<name>      (n_seq, n_steps) never shown to a model (L, ...)
    /labels/<name>      (n_seq, n_steps) per-sample labels (bool or numbers)
    /params/<name>      (n_seq,) per-sequence generator parameters
    /splits/<name>      integer indices of the sequences in each split
    root attrs          kind, format_version, plus the generator's attributes

Files are written to a temporary file next to the target and renamed, so an
interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InputError
from .store import atomic_path

__all__ = ["TabularDataset", "SequenceDataset", "save_dataset", "load_dataset",
           "describe_dataset", "SequenceWindows", "DATASET_FORMAT_VERSION", "SEQUENCE_GROUPS"]

DATASET_FORMAT_VERSION = 1
SEQUENCE_GROUPS = ("sequences", "hidden", "labels", "params", "splits")
_RESERVED = {"kind", "format_version", "feature_names", "target_names", "formula",
             "units", "source", "seed", "noise"}


@dataclass
class TabularDataset:
    """Inputs ``X`` (n, d) and targets ``y`` (n,) or (n, k) with their names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    formula: str | None = None
    units: dict[str, str] | None = None
    source: str = ""
    seed: int | None = None
    noise: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        self.feature_names = [str(n) for n in self.feature_names]
        self.target_names = [str(n) for n in self.target_names]
        if self.X.ndim != 2:
            raise InputError(f"X must be 2-D (n, d), got shape {self.X.shape}")
        if self.y.ndim not in (1, 2) or len(self.y) != len(self.X):
            raise InputError(f"y must have {len(self.X)} rows (one per row of X), got shape "
                             f"{self.y.shape}")
        if len(self.feature_names) != self.X.shape[1]:
            raise InputError(f"feature_names has {len(self.feature_names)} names but X has "
                             f"{self.X.shape[1]} columns")
        k = 1 if self.y.ndim == 1 else self.y.shape[1]
        if len(self.target_names) != k:
            raise InputError(f"target_names has {len(self.target_names)} names but y has "
                             f"{k} column{'s' if k != 1 else ''}")

    @property
    def kind(self) -> str:
        return "table"

    def target(self, name: str | None = None) -> np.ndarray:
        """One target column as a 1-D array (the only one by default)."""
        if self.y.ndim == 1:
            if name not in (None, self.target_names[0]):
                raise InputError(f"no target {name!r}; the target is {self.target_names[0]!r}")
            return self.y
        if name is None:
            raise InputError(f"name one of the targets {self.target_names}")
        if name not in self.target_names:
            raise InputError(f"no target {name!r}; targets: {self.target_names}")
        return self.y[:, self.target_names.index(name)]


@dataclass
class SequenceDataset:
    """Groups of named arrays (see the module docstring) and root attributes."""

    groups: dict[str, dict[str, np.ndarray]]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.groups) - set(SEQUENCE_GROUPS))
        if unknown:
            raise InputError(f"unknown sequence dataset group(s) {unknown}; the groups are "
                             f"{', '.join(SEQUENCE_GROUPS)}")
        if not self.groups.get("sequences"):
            raise InputError("a sequence dataset needs at least one array in 'sequences'")
        self.groups = {g: {k: np.asarray(v) for k, v in arrays.items()}
                       for g, arrays in self.groups.items()}
        if any(a.ndim < 2 for a in self.groups["sequences"].values()):
            raise InputError("arrays in 'sequences' must be (n_sequences, n_steps, ...)")
        n_seq = {a.shape[0] for a in self.groups["sequences"].values()}
        steps = {a.shape[1:] for a in self.groups["sequences"].values()}
        if len(n_seq) != 1 or len(steps) != 1:
            raise InputError("all arrays in 'sequences' must have the same shape")
        n = n_seq.pop()
        for g in ("hidden", "labels", "params"):
            for k, a in self.groups.get(g, {}).items():
                if a.shape[:1] != (n,):
                    raise InputError(f"/{g}/{k} has {a.shape[0] if a.ndim else 0} rows but "
                                     f"there are {n} sequences")
        for k, idx in self.groups.get("splits", {}).items():
            if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or \
                    (len(idx) and (idx.min() < 0 or idx.max() >= n)):
                raise InputError(f"/splits/{k} must hold sequence indices in [0, {n})")

    @property
    def kind(self) -> str:
        return "sequences"

    @property
    def n_sequences(self) -> int:
        return next(iter(self.groups["sequences"].values())).shape[0]

    def __getitem__(self, path: str) -> np.ndarray:
        """``ds["hidden/L"]``: one array by its group/name path."""
        group, _, name = path.strip("/").partition("/")
        try:
            return self.groups[group][name]
        except KeyError:
            raise KeyError(f"no array {path!r}; groups: "
                           + ", ".join(f"{g}/{{{', '.join(a)}}}" for g, a in self.groups.items())
                           ) from None

    def windows(self, split: str | None = None, length: int = 50, stride: int = 5
                ) -> "SequenceWindows":
        """Cut the sequences (of one split, or all) into windows for sequence models.

        Windows start at steps 0, stride, 2 stride, ... as long as they fit,
        ordered by sequence (the split's order), then by start.  Sequence
        features are stacked in the group's order; each label is taken at the
        window's last step; hidden variables keep the whole window.
        """
        from .._validation import check_int

        if split is None:
            idx = np.arange(self.n_sequences)
        else:
            known = list(self.groups.get("splits", {}))
            if split not in known:
                raise InputError(f"unknown split {split!r}; the splits are "
                                 f"{', '.join(known) or 'none'}")
            idx = self.groups["splits"][split]
            if len(idx) == 0:
                raise InputError(f"split {split!r} is empty: it holds no sequence")
        length = check_int(length, "window length", 1)
        stride = check_int(stride, "stride", 1)
        n_steps = next(iter(self.groups["sequences"].values())).shape[1]
        if length > n_steps:
            raise InputError(f"window length {length} is longer than the sequences "
                             f"({n_steps} steps)")
        for g in ("sequences", "hidden", "labels"):
            for k, a in self.groups.get(g, {}).items():
                if a.ndim != 2 or a.shape[1] != n_steps:
                    raise InputError(f"/{g}/{k} has shape {a.shape}; windows need "
                                     f"(n_sequences, {n_steps}) arrays")
        starts = np.arange(0, n_steps - length + 1, stride)
        last = starts + length - 1

        def cut(a: np.ndarray) -> np.ndarray:
            w = np.lib.stride_tricks.sliding_window_view(a[idx], length, axis=1)[:, starts]
            return np.ascontiguousarray(w.reshape(-1, length))

        seqs = self.groups["sequences"]
        inputs = np.stack([cut(a) for a in seqs.values()], axis=-1)
        labels = {k: a[idx][:, last].reshape(-1) for k, a in self.groups.get("labels", {}).items()}
        return SequenceWindows(
            inputs=inputs, feature_names=list(seqs),
            labels=np.stack(list(labels.values()), -1) if labels else np.zeros((len(inputs), 0)),
            label_names=list(labels),
            hidden={k: cut(a) for k, a in self.groups.get("hidden", {}).items()},
            sequence=np.repeat(idx, len(starts)), last_step=np.tile(last, len(idx)))


@dataclass
class SequenceWindows:
    """Windows cut by :meth:`SequenceDataset.windows`.

    ``inputs`` (n, length, n_features); ``labels`` (n, n_labels) at each
    window's last step; ``hidden`` name -> (n, length); ``sequence`` and
    ``last_step`` (n,) locate each window's last step in the dataset.
    """

    inputs: np.ndarray
    feature_names: list[str]
    labels: np.ndarray
    label_names: list[str]
    hidden: dict[str, np.ndarray]
    sequence: np.ndarray
    last_step: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


# ------------------------------------------------------------------ write
def _attr(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)) and not (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        return json.dumps(value)
    if value is None:
        return "null"
    return value


def save_dataset(ds: TabularDataset | SequenceDataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to the HDF5 file ``path`` atomically; return the path."""
    path = Path(path)
    if not isinstance(ds, (TabularDataset, SequenceDataset)):
        raise InputError(f"save_dataset expects a TabularDataset or SequenceDataset, got "
                         f"{type(ds).__name__}")
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["kind"] = ds.kind
            f.attrs["format_version"] = DATASET_FORMAT_VERSION
            if isinstance(ds, TabularDataset):
                f.create_dataset("X", data=ds.X)
                f.create_dataset("y", data=ds.y)
                f.attrs["feature_names"] = ds.feature_names
                f.attrs["target_names"] = ds.target_names
                for name in ("formula", "units", "source", "seed", "noise"):
                    value = getattr(ds, name)
                    if value is not None:
                        f.attrs[name] = _attr(value)
                extra = ds.attrs
            else:
                for g, arrays in ds.groups.items():
                    grp = f.create_group(g, track_order=True)   # keep channel order
                    for k, a in arrays.items():
                        grp.create_dataset(k, data=a)
                extra = ds.attrs
            for k, v in extra.items():
                if k in ("kind", "format_version"):
                    continue
                f.attrs[k] = _attr(v)
    return path


# ------------------------------------------------------------------- read
def _names(v: Any) -> list[str] | None:
    """Names from a read attribute: one name written as a plain string is a list
    of one (not of its characters), as :mod:`kandiscover.data.table` reads it."""
    if v is None:
        return None
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _value(v: Any) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "OSU":
        return [x.decode() if isinstance(x, bytes) else str(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, str) and (v[:1] in "[{" or v == "null"):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def load_dataset(path: str | os.PathLike) -> TabularDataset | SequenceDataset:
    """Read a dataset file written by :func:`save_dataset` (or by hand in the
    same layout)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"dataset file {path} does not exist")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path} is not an HDF5 file (or it is truncated)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path} could not be read as HDF5 ({exc})") from None
    with f:
        attrs = {k: _value(v) for k, v in f.attrs.items()}
        kind = attrs.get("kind")
        if kind is None:
            kind = "table" if "X" in f and "y" in f else "sequences" if "sequences" in f else None
        if kind == "table":
            for name in ("X", "y"):
                if not isinstance(f.get(name), h5py.Dataset):
                    raise InputError(f"{path} is a table dataset without /{name}")
            X, y = f["X"][()], f["y"][()]
            if X.ndim != 2:
                raise InputError(f"{path}: /X must be 2-D, got shape {X.shape}")
            if len(y) != len(X):
                raise InputError(f"{path}: /X has {len(X)} rows but /y has {len(y)}")
            features = _names(attrs.get("feature_names")) or [f"x{i}" for i in range(X.shape[1])]
            targets = _names(attrs.get("target_names")) or (
                ["y"] if y.ndim == 1 else [f"y{i}" for i in range(y.shape[1])])
            extra = {k: v for k, v in attrs.items() if k not in _RESERVED}
            return TabularDataset(X, y, list(features), list(targets),
                                  formula=attrs.get("formula"), units=attrs.get("units"),
                                  source=attrs.get("source", ""), seed=attrs.get("seed"),
                                  noise=float(attrs.get("noise", 0.0)), attrs=extra)
        if kind == "sequences":
            if not isinstance(f.get("sequences"), h5py.Group):
                raise InputError(f"{path} is a sequence dataset without the group /sequences")
            groups = {g: {k: v[()] for k, v in f[g].items() if isinstance(v, h5py.Dataset)}
                      for g in SEQUENCE_GROUPS if isinstance(f.get(g), h5py.Group)}
            extra = {k: v for k, v in attrs.items() if k not in ("kind", "format_version")}
            try:
                return SequenceDataset(groups, extra)
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from None
        raise InputError(f"{path} is not a kandiscover dataset: expected /X and /y (a table) "
                         "or a /sequences group")


# ---------------------------------------------------------------- summary
def _range(a: np.ndarray) -> str:
    a = np.asarray(a, dtype=float)
    return f"[{np.nanmin(a):.4g}, {np.nanmax(a):.4g}]" if a.size else "[]"


def describe_dataset(ds: TabularDataset | SequenceDataset) -> str:
    """A human-readable summary: shapes, names, ranges, formula, class balance."""
    lines = []
    if isinstance(ds, TabularDataset):
        lines.append(f"table: {ds.X.shape[0]} rows, {ds.X.shape[1]} inputs, "
                     f"{len(ds.target_names)} target{'s' if len(ds.target_names) > 1 else ''}")
        if ds.formula:
            lines.append(f"formula: {', '.join(ds.target_names)} = {ds.formula}")
        for k, name in enumerate(ds.feature_names):
            unit = f" [{ds.units[name]}]" if ds.units and name in ds.units else ""
            lines.append(f"  input  {name}{unit}: {_range(ds.X[:, k])}")
        Y = ds.y.reshape(len(ds.y), -1)
        for k, name in enumerate(ds.target_names):
            lines.append(f"  target {name}: {_range(Y[:, k])}")
        meta = [f"{k}={v}" for k, v in (("source", ds.source), ("seed", ds.seed),
                                         ("noise", ds.noise)) if v not in (None, "")]
        if meta:
            lines.append("  " + ", ".join(meta))
        return "\n".join(lines)
    seqs = ds.groups["sequences"]
    shape = next(iter(seqs.values())).shape
    lines.append(f"sequences: {shape[0]} sequences x {shape[1]} steps; observed "
                 f"{', '.join(seqs)}; hidden {', '.join(ds.groups.get('hidden', {})) or '-'}")
    for k in ("g", "sample_rate_hz", "theta_star", "seed", "generator_version"):
        if k in ds.attrs:
            lines.append(f"  {k} = {ds.attrs[k]}")
    splits = ds.groups.get("splits") or {"all": np.arange(shape[0])}
    labels = ds.groups.get("labels", {})
    hidden = ds.groups.get("hidden", {})
    for split, idx in splits.items():
        parts = [f"{split}: {len(idx)} sequences"]
        for name, lab in labels.items():
            vals = np.asarray(lab[idx])
            if vals.dtype == bool or set(np.unique(vals)) <= {0, 1}:
                parts.append(f"{name} {100 * float(np.mean(vals)):.1f}% positive")
        for name, arr in hidden.items():
            if name == "L":
                parts.append(f"L {_range(arr[idx])} m")
        for name, arr in ds.groups.get("params", {}).items():
            if name == "L0":
                parts.append(f"L0 {_range(arr[idx])}")
        lines.append("  " + "; ".join(parts))
    return "\n".join(lines)

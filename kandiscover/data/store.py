"""HDF5 model files.

Layout of a model file (``format_version`` 1)::

    /                      attrs: kind="kandiscover.KAN", format_version=1,
                                  config (JSON of the constructor arguments),
                                  kandiscover_version
    /layers/<l>/grid       (n_in, G + 1) knots
    /layers/<l>/coef       (n_in, n_out, G + k) spline coefficients
    /layers/<l>/scale_base, scale_sp, mask, sym_mask   (n_in, n_out)
    /layers/<l>/sym_params (n_in, n_out, 4)  a, b, c, d of symbolic edges
    /layers/<l>/symbolic   compound table (i, j, name) of symbolic edges
    /nodes/<l>/subnode_scale, subnode_bias, node_scale, node_bias

A :class:`~kandiscover.kan.seqkan.SeqKAN` file (kind ``"kandiscover.SeqKAN"``)
holds its constructor's config in the root attributes, its two maps as
``/phi_h`` and ``/phi_o`` in the layout above (each group with its own
``config``), and the input normalisation as ``/x_mean``, ``/x_std`` and the
root attribute ``normalized``.

No pickle: every symbolic function is stored by its name in
:mod:`kandiscover.symbolic.library` and looked up on load.  Files are written
to a temporary file in the target folder and renamed, so an interrupted
save never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import torch

from ..errors import ModelFileError
from ..kan.layer import SymbolicEdge
from ..kan.network import KAN
from ..symbolic import library

if TYPE_CHECKING:
    from ..kan.seqkan import SeqKAN

__all__ = ["save", "load", "FORMAT_VERSION", "atomic_path"]

FORMAT_VERSION = 1
KIND = "kandiscover.KAN"
SEQ_KIND = "kandiscover.SeqKAN"
_LAYER_TENSORS = ("coef", "scale_base", "scale_sp", "mask", "sym_mask", "sym_params")
_NODE_TENSORS = ("subnode_scale", "subnode_bias", "node_scale", "node_bias")


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class atomic_path:
    """Context manager yielding a temporary path next to ``path``; on success
    the temporary file is flushed to disk and replaces ``path`` (so a crash or
    power cut leaves the old file or the new one, never a mix), on error it is
    removed."""

    def __init__(self, path: str | os.PathLike, suffix: str = ".tmp"):
        self.path = Path(path)
        self.suffix = suffix

    def __enter__(self) -> Path:
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise ModelFileError(f"cannot write {self.path}: folder {folder} does not exist")
        if self.path.is_dir():
            raise ModelFileError(f"cannot write {self.path}: it is a folder")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=self.suffix,
                                   dir=folder)
        os.close(fd)
        # mkstemp makes 0600: a replaced file keeps its mode, a new one gets the usual one
        if self.path.exists():
            shutil.copymode(self.path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            _fsync(self.tmp)             # the data reaches the disk before the rename
            try:
                os.replace(self.tmp, self.path)
            except OSError as err:       # e.g. a folder of that name: no temporary file left
                self.tmp.unlink(missing_ok=True)
                raise ModelFileError(f"cannot write {self.path}: {err.strerror}") from None
            _fsync(self.tmp.parent, directory=True)   # and so does the rename
        else:
            self.tmp.unlink(missing_ok=True)


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush ``path`` to disk (best effort: some file systems refuse it on folders)."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_storable(model: KAN, where: str = "") -> None:
    """Every symbolic edge must be a library function, found again by its name."""
    for l, layer in enumerate(model.layers):
        for (i, j), edge in layer.symbolic.items():
            try:
                entry = library.get(edge.name)
            except KeyError:
                raise ModelFileError(
                    f"{where}edge ({l}, {i}, {j}) uses function {edge.name!r}, which is not "
                    "in the symbolic library; register it with "
                    "kandiscover.symbolic.library.register(...) before saving") from None
            if edge.fn is not entry.torch_fn and edge.fn is not entry.train_fn:
                raise ModelFileError(
                    f"{where}edge ({l}, {i}, {j}) is named {edge.name!r} but its function "
                    "is not the library's function of that name; register it under its "
                    "own name")


def _write_kan(g: h5py.Group, model: KAN) -> None:
    """``model``'s config, layers and node maps into the file or group ``g``."""
    g.attrs["config"] = json.dumps(model.config)
    for l, layer in enumerate(model.layers):
        lg = g.create_group(f"layers/{l}")
        lg.create_dataset("grid", data=layer.grid.detach().cpu().numpy())
        for name in _LAYER_TENSORS:
            lg.create_dataset(name, data=getattr(layer, name).detach().cpu().numpy())
        rows = sorted(layer.symbolic.items())
        table = np.array([(i, j, e.name.encode()) for (i, j), e in rows],
                         dtype=[("i", "i4"), ("j", "i4"), ("name", "S64")])
        lg.create_dataset("symbolic", data=table, shape=(len(rows),))
        n = g.create_group(f"nodes/{l}")
        for name in _NODE_TENSORS:
            n.create_dataset(name, data=getattr(model, name)[l].detach().cpu().numpy())


def save(model: "KAN | SeqKAN", path: str | os.PathLike) -> Path:
    """Write a KAN or a SeqKAN to the HDF5 file ``path`` (atomically); return the path."""
    from ..kan.seqkan import SeqKAN
    if isinstance(model, SeqKAN):
        maps = {"phi_h": model.phi_h, "phi_o": model.phi_o}
    elif isinstance(model, KAN):
        maps = {"": model}
    else:
        raise TypeError(f"save expects a kandiscover.KAN or SeqKAN, got "
                        f"{type(model).__name__}")
    for name, kan in maps.items():
        _check_storable(kan, f"{name}: " if name else "")
    path = Path(path)
    from .. import __version__
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["kind"] = SEQ_KIND if isinstance(model, SeqKAN) else KIND
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["kandiscover_version"] = __version__
            if isinstance(model, SeqKAN):
                f.attrs["config"] = json.dumps(model.config)
                f.attrs["normalized"] = bool(model.normalized)
                f.create_dataset("x_mean", data=model.x_mean.detach().cpu().numpy())
                f.create_dataset("x_std", data=model.x_std.detach().cpu().numpy())
                for name, kan in maps.items():
                    _write_kan(f.create_group(name), kan)
            else:
                _write_kan(f, model)
    return path


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if not h5py.is_hdf5(path):
        raise ModelFileError(f"{path} is not an HDF5 file (or it is truncated)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ModelFileError(f"{path} could not be read as HDF5 ({exc}); the file may "
                             "be truncated or damaged") from None


def load(path: str | os.PathLike) -> "KAN | SeqKAN":
    """Read a model written by :func:`save`: a KAN, or a SeqKAN."""
    path = Path(path)
    with _open(path) as f:
        kind = f.attrs.get("kind")
        if isinstance(kind, bytes):
            kind = kind.decode()
        if kind not in (KIND, SEQ_KIND):
            raise ModelFileError(f"{path} is an HDF5 file but not a kandiscover model "
                                 f"(kind attribute: {kind!r})")
        version = int(f.attrs.get("format_version", -1))
        if version > FORMAT_VERSION or version < 1:
            raise ModelFileError(f"{path} has model format_version {version}; this "
                                 f"kandiscover reads versions 1..{FORMAT_VERSION}")
        try:
            return _read_seqkan(f) if kind == SEQ_KIND else _read_model(f)
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise ModelFileError(f"{path} is an incomplete or damaged model file: "
                                 f"{exc}") from None


def _read_seqkan(f: h5py.File) -> "SeqKAN":
    from ..kan.seqkan import SeqKAN
    model = SeqKAN(**json.loads(f.attrs["config"]))
    model.phi_h, model.phi_o = _read_model(f["phi_h"]), _read_model(f["phi_o"])
    with torch.no_grad():
        model.x_mean.copy_(torch.from_numpy(f["x_mean"][()]))
        model.x_std.copy_(torch.from_numpy(f["x_std"][()]))
        model.normalized.fill_(bool(f.attrs["normalized"]))
    return model


def _read_model(f: h5py.File | h5py.Group) -> KAN:
    cfg = json.loads(f.attrs["config"])
    cfg["width"] = [tuple(p) for p in cfg["width"]]
    model = KAN(**cfg)
    with torch.no_grad():
        for l, layer in enumerate(model.layers):
            g = f[f"layers/{l}"]
            layer.set_grid(torch.from_numpy(g["grid"][()]))
            for name in _LAYER_TENSORS:
                getattr(layer, name).copy_(torch.from_numpy(g[name][()]))
            layer.symbolic = {}
            for row in g["symbolic"][()]:
                name = row["name"].decode()
                try:
                    entry = library.get(name)
                except KeyError as exc:
                    raise ModelFileError(f"edge ({l}, {row['i']}, {row['j']}) uses "
                                         f"{exc.args[0]}; register that function "
                                         "before loading") from None
                layer.symbolic[(int(row["i"]), int(row["j"]))] = SymbolicEdge(
                    name, entry.train_fn)
            layer._rebuild_groups()
            n = f[f"nodes/{l}"]
            for name in _NODE_TENSORS:
                getattr(model, name)[l].copy_(torch.from_numpy(n[name][()]))
    return model

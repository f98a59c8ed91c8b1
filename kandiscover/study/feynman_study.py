"""The Feynman recovery study and the same study over a folder of dataset files.

``kandiscover study feynman`` runs :func:`run_feynman_study`;
``kandiscover study run DATASETS_DIR`` runs :func:`run_folder_study`.  Both
go through :func:`kandiscover.study.runner.run_study` (see there for the
protocol, executors, retry policy and timeouts) and end with a report when
:mod:`kandiscover.study.report` is installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from .results import ResultStore
from .runner import DATASET_SUFFIXES, run_study

__all__ = ["run_feynman_study", "run_folder_study", "dataset_files", "DEFAULT_FEYNMAN"]

#: A quick default selection (used when neither ``equations`` nor ``all`` is given).
DEFAULT_FEYNMAN = ("I.6.2a", "I.12.1", "I.14.3", "II.3.24", "III.12.43")


def _report(store: ResultStore, out: str | os.PathLike, verbose: bool) -> None:
    try:
        from .report import write_report
    except ImportError:
        return
    write_report(store, out)


def run_feynman_study(equations: Sequence[str] | None = None, all: bool = False,
                      methods: Sequence[str] = ("kan", "operon"),
                      noise: Sequence[float] = (0.0,), seeds: int | Sequence[int] = 1,
                      budget: float = 60, out: str | os.PathLike = "studies/feynman",
                      **kwargs: Any) -> ResultStore:
    """Recovery study on Feynman equations (all 100 with ``all=True``).

    ``kwargs`` go to :func:`~kandiscover.study.runner.run_study` (``workers``,
    ``scheduler``, ``dask_workers``, ``settings``, ``verbose``, ``n_samples``,
    ``hard_timeout``).
    """
    from ..data.feynman import equations as all_equations

    if all and equations:
        raise InputError("give either a list of equations or all, not both")
    if all:
        names = [e.name for e in all_equations()]
    elif equations is None:
        names = list(DEFAULT_FEYNMAN)
    else:
        names = list(equations)
    store = run_study(names, methods, noise, seeds, budget, out, **kwargs)
    _report(store, out, kwargs.get("verbose", True))
    return store


def dataset_files(folder: str | os.PathLike) -> list[Path]:
    """The ``.h5``/``.hdf5``/``.csv`` files of ``folder`` (sorted), each one dataset."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"dataset folder {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in DATASET_SUFFIXES)
    if not files:
        raise InputError(f"{folder} holds no dataset files ({', '.join(DATASET_SUFFIXES)})")
    stems = [p.stem for p in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise InputError(f"{folder} has several files named {', '.join(twice)} (with "
                         "different suffixes); dataset names must be unique")
    return files


def run_folder_study(folder: str | os.PathLike, methods: Sequence[str] = ("kan", "operon"),
                     noise: Sequence[float] = (0.0,), seeds: int | Sequence[int] = 1,
                     budget: float = 60, out: str | os.PathLike = "studies/datasets",
                     **kwargs: Any) -> ResultStore:
    """Recovery study on every dataset file of ``folder``.

    Each file is one dataset named after its stem; its truth is its
    ``formula`` attribute (HDF5) when present, otherwise no symbolic check is
    made.  A file that cannot be read makes its tasks fail with the reason;
    the other datasets run.
    """
    store = run_study(dataset_files(folder), methods, noise, seeds, budget, out, **kwargs)
    _report(store, out, kwargs.get("verbose", True))
    return store

"""Input checks at the public boundary, with messages that name the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .errors import InputError, InputTypeError


def _describe_bad(mask: np.ndarray, limit: int = 5) -> str:
    """Describe where ``mask`` (2-D boolean) is true: columns and first rows."""
    rows, cols = np.nonzero(mask)
    parts = []
    for c in np.unique(cols):
        r = rows[cols == c]
        shown = ", ".join(str(int(v)) for v in r[:limit])
        more = f", ... ({len(r)} in all)" if len(r) > limit else ""
        parts.append(f"column {int(c)} (rows {shown}{more})")
    return "; ".join(parts)


def as_numeric_array(value: Any, name: str) -> np.ndarray:
    """``value`` (array-like or tensor) as a real numeric numpy array, or raise
    :class:`InputTypeError` naming ``name``."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise InputTypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise InputTypeError(
            f"{name} must be numeric, got an array of dtype {arr.dtype!s}"
        )
    if np.iscomplexobj(arr):
        raise InputTypeError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    return arr


def as_2d_array(value: Any, name: str, *, ndim_out: int | None = None) -> np.ndarray:
    """Convert ``value`` to a finite 2-D float64 numpy array or raise.

    A 1-D input becomes a column.  ``ndim_out`` is only used in messages.
    """
    arr = as_numeric_array(value, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name} must be 1-D or 2-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} has zero rows; at least one sample is needed")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has zero columns")
    arr = arr.astype(np.float64, copy=False)
    bad_nan = np.isnan(arr)
    if bad_nan.any():
        raise InputError(
            f"{name} has {int(bad_nan.sum())} NaN values in {_describe_bad(bad_nan)}"
        )
    bad_inf = np.isinf(arr)
    if bad_inf.any():
        raise InputError(
            f"{name} has {int(bad_inf.sum())} infinite values in {_describe_bad(bad_inf)}"
        )
    return arr


def check_Xy(X: Any, y: Any, n_features: int | None = None,
             n_targets: int | None = None, X_name: str = "X",
             y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of design matrix and targets; return 2-D float64 arrays."""
    Xa = as_2d_array(X, X_name)
    ya = as_2d_array(y, y_name)
    if Xa.shape[0] != ya.shape[0]:
        raise InputError(
            f"{X_name} and {y_name} have different numbers of rows: "
            f"{Xa.shape[0]} and {ya.shape[0]}"
        )
    if n_features is not None and Xa.shape[1] != n_features:
        raise InputError(
            f"{X_name} has {Xa.shape[1]} columns but the model's width[0] is "
            f"{n_features} (one column per input node)"
        )
    if n_targets is not None and ya.shape[1] != n_targets:
        raise InputError(
            f"{y_name} has {ya.shape[1]} columns but the model has {n_targets} "
            "output nodes (width[-1])"
        )
    return Xa, ya


def check_fraction(value: Any, name: str, *, inclusive_high: bool = True) -> float:
    """A number in [0, 1] (or [0, 1) with ``inclusive_high=False``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number in [0, 1], got {value!r}") from None
    ok = 0.0 <= v <= 1.0 if inclusive_high else 0.0 <= v < 1.0
    if not ok or np.isnan(v):
        hi = "1]" if inclusive_high else "1)"
        raise InputError(f"{name} must lie in [0, {hi}, got {value!r}")
    return v


def check_int(value: Any, name: str, minimum: int) -> int:
    """An integer >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        rel = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be a finite number {rel}, got {value!r}")
    return v

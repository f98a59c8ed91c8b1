"""Is one classifier's ROC-AUC really higher than another's on the same test set?

Windows cut from one sequence overlap and share its hidden variables, so they
are not independent samples: a test that treats them as such (DeLong's, or a
bootstrap over windows) is overconfident.  :func:`auc_difference` resamples
whole *groups* (sequences) with replacement, scores both classifiers on the
same resampled windows (paired), and returns the difference of their ROC-AUCs
with a bootstrap confidence interval (:func:`scipy.stats.bootstrap`, BCa).
Several score rows per classifier (one per training seed) are averaged as
AUCs, as a mean-over-seeds table does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import DegenerateDataWarning, bootstrap
from sklearn.metrics import roc_auc_score

from .._validation import check_int
from ..errors import InputError

__all__ = ["AUCDifference", "auc_difference"]


@dataclass(frozen=True)
class AUCDifference:
    """``a - b`` in mean ROC-AUC, with its bootstrap confidence interval
    ``(low, high)`` at ``confidence``, over ``n_groups`` resampled groups;
    ``method`` is ``"BCa"``, or ``"percentile"`` where BCa is undefined."""

    a: float
    b: float
    difference: float
    low: float
    high: float
    confidence: float
    n_groups: int
    method: str = "BCa"

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return self.low > 0 or self.high < 0


def _rows(score: Any, n: int, name: str) -> np.ndarray:
    s = np.asarray(score, dtype=float)
    s = s[None] if s.ndim == 1 else s
    if s.ndim != 2 or s.shape[1] != n:
        raise InputError(f"{name} must be ({n},) or (n_seeds, {n}) scores, got shape "
                         f"{np.shape(score)}")
    if not np.isfinite(s).all():
        raise InputError(f"{name} holds NaN or infinite scores")
    return s


def auc_difference(y: Any, score_a: Any, score_b: Any, groups: Any, *,
                   confidence: float = 0.95, n_resamples: int = 1000,
                   seed: int = 0) -> AUCDifference:
    """Paired, group-resampled bootstrap of ROC-AUC(a) - ROC-AUC(b).

    Parameters
    ----------
    y : (n,) binary labels
    score_a, score_b : (n,) scores, or (n_seeds, n) for several trained copies
        (their AUCs are averaged); higher means label 1
    groups : (n,) group of each sample (e.g. the sequence a window is cut from);
        whole groups are resampled
    confidence : level of the interval
    n_resamples : bootstrap resamples
    seed : seeds the resampling
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise InputError("y must be 1-D binary labels (0/1 or bool), got "
                         f"shape {y.shape} with values {np.unique(y)[:5]}")
    y = y.astype(bool)
    n = len(y)
    a, b = _rows(score_a, n, "score_a"), _rows(score_b, n, "score_b")
    g = np.asarray(groups).ravel()
    if len(g) != n:
        raise InputError(f"groups has {len(g)} entries for {n} labels")
    if y.all() or not y.any():
        raise InputError("y needs both classes for a ROC-AUC")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    n_resamples = check_int(n_resamples, "n_resamples", 10)
    ids, inverse = np.unique(g, return_inverse=True)
    if len(ids) < 2:
        raise InputError("auc_difference needs at least 2 groups to resample")

    def diff(weights: np.ndarray) -> float:
        if not (y * weights).any() or not (~y * weights).any():
            return np.nan        # a resample without one class has no AUC (nor the interval)
        return float(np.mean([roc_auc_score(y, r, sample_weight=weights) for r in a])
                     - np.mean([roc_auc_score(y, r, sample_weight=weights) for r in b]))

    def statistic(picked: np.ndarray) -> float:
        counts = np.bincount(picked.astype(np.int64), minlength=len(ids))
        return diff(counts[inverse].astype(float))

    full = [float(np.mean([roc_auc_score(y, r) for r in s])) for s in (a, b)]
    with warnings.catch_warnings():
        # BCa is undefined when every resample gives the same difference (for
        # example two classifiers that rank alike); the percentile interval is used
        warnings.simplefilter("ignore", DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)     # its 0/0 in the BCa terms
        res = bootstrap((np.arange(len(ids)),), statistic, n_resamples=n_resamples,
                        confidence_level=confidence, vectorized=False, method="BCa",
                        rng=np.random.default_rng(seed))
    low, high = (float(v) for v in (res.confidence_interval.low,
                                    res.confidence_interval.high))
    method = "BCa"
    if not (np.isfinite(low) and np.isfinite(high)):
        tail = 50 * (1 - confidence)
        low, high = (float(v) for v in np.nanpercentile(res.bootstrap_distribution,
                                                        [tail, 100 - tail]))
        method = "percentile"
    return AUCDifference(full[0], full[1], full[0] - full[1], low, high, confidence, len(ids),
                         method)

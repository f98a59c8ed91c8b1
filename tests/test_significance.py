"""The paired, group-resampled bootstrap of an ROC-AUC difference."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from kandiscover.compare.significance import auc_difference
from kandiscover.errors import InputError


def _data(n_groups=60, per=10, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    y = rng.random(n_groups * per) < 0.5
    signal = y + rng.normal(0, 1.0, len(y))
    return y, signal, g, rng


def test_a_better_score_is_a_significant_gap_and_the_values_are_the_aucs():
    y, signal, g, rng = _data()
    good = signal + rng.normal(0, 0.2, len(y))
    bad = signal + rng.normal(0, 2.0, len(y))
    d = auc_difference(y, good, bad, g, n_resamples=300)
    assert d.a == pytest.approx(roc_auc_score(y, good))
    assert d.b == pytest.approx(roc_auc_score(y, bad))
    assert d.difference == pytest.approx(d.a - d.b) and d.difference > 0.1
    assert 0 < d.low < d.difference < d.high and d.significant and d.n_groups == 60
    assert d.method == "BCa"
    flipped = auc_difference(y, bad, good, g, n_resamples=300)
    assert flipped.high < 0 and flipped.significant


def test_the_same_scores_are_no_gap():
    y, signal, g, _ = _data()
    d = auc_difference(y, signal, signal.copy(), g, n_resamples=200)
    assert d.difference == 0 and d.low == pytest.approx(0) and d.high == pytest.approx(0)
    assert not d.significant and d.method == "percentile"   # BCa is undefined here


def test_rows_are_seeds_whose_aucs_are_averaged():
    y, signal, g, rng = _data()
    a = np.stack([signal + rng.normal(0, s, len(y)) for s in (0.3, 0.6)])
    b = signal + rng.normal(0, 1.0, len(y))
    d = auc_difference(y, a, b, g, n_resamples=100)
    assert d.a == pytest.approx(np.mean([roc_auc_score(y, r) for r in a]))


def test_resampling_groups_widens_the_interval_of_repeated_samples():
    # every group holds 10 copies of one sample: they are one observation, not ten
    y0, s0, _, rng = _data(n_groups=80, per=1)
    other = s0 + rng.normal(0, 1.0, len(s0))
    y, a, b = (np.repeat(v, 10) for v in (y0, s0, other))
    groups = np.repeat(np.arange(80), 10)
    by_group = auc_difference(y, a, b, groups, n_resamples=300)
    by_sample = auc_difference(y, a, b, np.arange(len(y)), n_resamples=300)
    assert by_group.difference == pytest.approx(by_sample.difference)
    assert (by_group.high - by_group.low) > 2 * (by_sample.high - by_sample.low)


def test_the_same_seed_gives_the_same_interval():
    y, signal, g, rng = _data()
    other = signal + rng.normal(0, 1.0, len(y))
    first, again = (auc_difference(y, signal, other, g, n_resamples=100, seed=3)
                    for _ in range(2))
    assert first == again


def test_bad_input_is_named():
    y, signal, g, _ = _data()
    with pytest.raises(InputError, match="score_b"):
        auc_difference(y, signal, signal[:-1], g)
    with pytest.raises(InputError, match="NaN"):
        auc_difference(y, signal, np.full(len(y), np.nan), g)
    with pytest.raises(InputError, match="groups"):
        auc_difference(y, signal, signal, g[:-1])
    with pytest.raises(InputError, match="binary labels"):
        auc_difference(np.where(y, 1, -1), signal, signal, g)
    with pytest.raises(InputError, match="1-D"):
        auc_difference(np.stack([y, y]), signal, signal, g)
    with pytest.raises(InputError, match="both classes"):
        auc_difference(np.ones(len(y)), signal, signal, g)
    with pytest.raises(InputError, match="2 groups"):
        auc_difference(y, signal, signal, np.zeros(len(y)))
    with pytest.raises(InputError, match="confidence"):
        auc_difference(y, signal, signal, g, confidence=1.5)


def test_the_weighted_auc_of_many_resamples_equals_sklearns():
    from kandiscover.compare.significance import _RankedScores
    rng = np.random.default_rng(4)
    y = rng.random(400) < 0.3
    score = np.round(y + rng.normal(0, 1, 400), 1)        # many ties
    weights = rng.integers(0, 4, size=(6, 400)).astype(float)
    weights[5] = np.where(y, 0.0, 1.0)                   # no positive left: no AUC
    got = _RankedScores(y, score).auc(weights)
    want = [roc_auc_score(y, score, sample_weight=w) for w in weights[:5]]
    np.testing.assert_allclose(got[:5], want, rtol=1e-12)
    assert np.isnan(got[5])


def test_resamples_that_lack_a_class_are_counted_or_refused():
    y, signal, g, rng = _data()
    other = signal + rng.normal(0, 1.0, len(y))
    few = np.isin(g, [0, 1, 2, 3]) & (np.arange(len(y)) % 10 == 0)   # positives in 4 groups
    d = auc_difference(few, signal, other, g, n_resamples=1000)
    assert 0 < d.n_undefined <= 50 and d.method == "percentile" and d.low <= d.high
    rare = np.isin(g, [0, 1]) & (np.arange(len(y)) % 10 == 0)         # in 2 groups
    with pytest.raises(InputError, match="lack one class"):
        auc_difference(rare, signal, other, g, n_resamples=1000)


def test_ragged_rows_and_2d_groups_are_named():
    y, signal, g, _ = _data()
    with pytest.raises(InputError, match="score_a"):
        auc_difference(y, [signal, signal[:-1]], signal, g)
    with pytest.raises(InputError, match="groups must be 1-D"):
        auc_difference(y, signal, signal, g[None, :])

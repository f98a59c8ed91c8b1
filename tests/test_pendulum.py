"""The variable-length pendulum dataset (kandiscover.data.pendulum)."""

import numpy as np
import pytest

from kandiscover.data.dataset import SequenceDataset, load_dataset, save_dataset
from kandiscover.data.pendulum import (GENERATOR_VERSION, energy, energy_rate, make_pendulum,
                                       simulate, windows)
from kandiscover.errors import InputError, InputTypeError

PARAMS = ("L0", "A", "P", "phi", "theta0", "omega0")
SPLITS = ("train", "val", "test_interp", "test_extrap")


@pytest.fixture(scope="module")
def ds():
    """The default dataset, generated once for the module."""
    return make_pendulum(seed=0)


def _small(seed, **kw):
    return make_pendulum(seed=seed, n_train=3, n_val=2, n_interp=2, n_extrap=2,
                         duration=5.0, **kw)


# ------------------------------------------------------------------ physics
def test_energy_helpers_by_hand():
    # hanging at rest, constant length: E = -g L, no power
    assert energy(0.0, 0.0, 2.0, 0.0, g=10.0) == pytest.approx(-20.0)
    # 1/2 (0.3^2 + 4 * 0.25) - 10 * 2 * cos(0.5)
    assert energy(0.5, 0.5, 2.0, 0.3, g=10.0) == pytest.approx(
        0.5 * (0.09 + 1.0) - 20.0 * np.cos(0.5))
    # -L' (g cos + L w^2 - L'')
    assert energy_rate(0.5, 0.5, 2.0, 0.3, -0.1, g=10.0) == pytest.approx(
        -0.3 * (10.0 * np.cos(0.5) + 0.5 + 0.1))
    assert energy_rate(1.0, 2.0, 1.0, 0.0, 0.7) == 0.0


def test_constant_length_conserves_energy():
    r = simulate(L0=[0.5, 1.0, 1.5, 2.5], A=0.0, P=10.0, phi=0.0,
                 theta0=[1.0, -0.5, 0.2, 0.8], omega0=[0.5, -0.5, 0.0, 0.3])
    assert r["theta"].shape == (4, 601) and r["t"][-1] == pytest.approx(30.0)
    E = r["E"]
    drift = np.max(np.abs(E - E[:, :1]) / np.abs(E[:, :1]))
    assert drift < 1e-7, drift
    assert np.all(r["dE_dt"] == 0) and np.all(r["L"] == r["L"][:, :1])
    # the pendulum really swings (energy conservation is not trivially met)
    assert np.all(np.ptp(r["theta"], axis=1) > 0.3)


def test_energy_rate_matches_finite_differences(ds):
    """Along generated trajectories (one or two per split), the analytic dE/dt
    equals the derivative of E: central differences at the integrator's own
    step (1 kHz), where |dE/dt| > 5 % of its maximum on the sequence, agree to
    1e-3 relative (measured: ~1e-6 median, ~2e-5 max)."""
    splits = ds.groups["splits"]
    pick = np.array([splits["train"][0], splits["train"][1], splits["val"][0],
                     splits["test_interp"][0], splits["test_extrap"][0]])
    p = {k: ds["params/" + k][pick] for k in PARAMS}
    fine = simulate(**p, rate_hz=1000.0)
    # the fine run is the same integration: every 50th sample is the stored one
    np.testing.assert_allclose(fine["theta"][:, ::50], ds["sequences/theta"][pick],
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(fine["omega"][:, ::50], ds["sequences/omega"][pick],
                               rtol=0, atol=1e-10)
    h = fine["t"][1] - fine["t"][0]
    assert h == pytest.approx(1e-3)
    E = fine["E"]
    fd = (E[:, 2:] - E[:, :-2]) / (2 * h)
    an = fine["dE_dt"][:, 1:-1]
    scale = np.abs(an).max(axis=1, keepdims=True)
    assert np.all(scale > 0.1)                     # the energy does change
    big = np.abs(an) > 0.05 * scale
    assert big.mean() > 0.9
    rel = np.abs(fd - an)[big] / np.abs(an[big])
    assert rel.max() < 1e-3, (np.median(rel), rel.max())
    assert np.max(np.abs(fd - an) / scale) < 1e-4   # and everywhere in absolute terms


def test_agrees_with_an_independent_integrator(ds):
    from scipy.integrate import solve_ivp

    g = ds.attrs["g"]
    t = np.arange(ds["sequences/theta"].shape[1]) / ds.attrs["sample_rate_hz"]
    for i in (ds.groups["splits"]["train"][0], ds.groups["splits"]["test_extrap"][0]):
        L0, A, P, phi, th0, om0 = (float(ds["params/" + k][i]) for k in PARAMS)
        k = 2 * np.pi / P

        def rhs(s, y):
            L = L0 * (1 + A * np.sin(k * s + phi))
            L_dot = L0 * A * k * np.cos(k * s + phi)
            return [y[1], -(g / L) * np.sin(y[0]) - 2 * (L_dot / L) * y[1]]

        sol = solve_ivp(rhs, (0.0, t[-1]), [th0, om0], method="DOP853", t_eval=t,
                        rtol=1e-11, atol=1e-12)
        assert sol.success
        np.testing.assert_allclose(ds["sequences/theta"][i], sol.y[0], rtol=0, atol=1e-8)
        np.testing.assert_allclose(ds["sequences/omega"][i], sol.y[1], rtol=0, atol=1e-8)


# ------------------------------------------------------------------ dataset
def test_layout_and_attrs(ds):
    assert isinstance(ds, SequenceDataset)
    assert set(ds.groups) == {"sequences", "hidden", "labels", "params", "splits"}
    assert set(ds.groups["sequences"]) == {"theta", "omega"}
    assert set(ds.groups["hidden"]) == {"L", "L_dot", "L_ddot"}
    assert set(ds.groups["labels"]) == {"energy_increasing", "near_equilibrium"}
    assert set(ds.groups["params"]) == set(PARAMS)
    assert set(ds.groups["splits"]) == set(SPLITS)
    for g in ("sequences", "hidden", "labels"):
        for a in ds.groups[g].values():
            assert a.shape == (550, 601)
    for a in ds.groups["labels"].values():
        assert a.dtype == bool
    for a in ds.groups["params"].values():
        assert a.shape == (550,)
    a = ds.attrs
    assert a["g"] == 9.81 and a["sample_rate_hz"] == 20.0 and a["seed"] == 0
    assert a["generator_version"] == GENERATOR_VERSION
    assert 0 < a["theta_star"] < np.pi / 2
    assert a["duration_s"] == 30.0 and a["window"] == 50 and a["stride"] == 5


def test_params_in_their_ranges_and_hidden_length_analytic(ds):
    p = {k: ds["params/" + k] for k in PARAMS}
    assert np.all((p["A"] >= 0.1) & (p["A"] <= 0.3))
    assert np.all((p["P"] >= 6) & (p["P"] <= 15))
    assert np.all((p["phi"] >= 0) & (p["phi"] < 2 * np.pi))
    assert np.all((np.abs(p["theta0"]) >= 0.2) & (np.abs(p["theta0"]) <= 1.0))
    assert 0.3 < np.mean(p["theta0"] > 0) < 0.7          # both signs
    assert np.all(np.abs(p["omega0"]) <= 0.5)
    np.testing.assert_array_equal(ds["sequences/theta"][:, 0], p["theta0"])
    np.testing.assert_array_equal(ds["sequences/omega"][:, 0], p["omega0"])
    t = np.arange(601) / ds.attrs["sample_rate_hz"]
    k = 2 * np.pi / p["P"][:, None]
    ph = k * t + p["phi"][:, None]
    L0, A = p["L0"][:, None], p["A"][:, None]
    np.testing.assert_allclose(ds["hidden/L"], L0 * (1 + A * np.sin(ph)), rtol=1e-12)
    np.testing.assert_allclose(ds["hidden/L_dot"], L0 * A * k * np.cos(ph), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(ds["hidden/L_ddot"], -L0 * A * k ** 2 * np.sin(ph), rtol=0,
                               atol=1e-12)
    assert ds["hidden/L"].min() > 0


def test_labels_match_their_definitions(ds):
    g, theta_star = ds.attrs["g"], ds.attrs["theta_star"]
    th, om = ds["sequences/theta"], ds["sequences/omega"]
    L, Ld, Ldd = ds["hidden/L"], ds["hidden/L_dot"], ds["hidden/L_ddot"]
    rate = -Ld * (g * np.cos(th) + L * om ** 2 - Ldd)
    np.testing.assert_array_equal(ds["labels/energy_increasing"], rate > 0)
    near = (1 - np.cos(th)) + L * om ** 2 / (2 * g) < 1 - np.cos(theta_star)
    np.testing.assert_array_equal(ds["labels/near_equilibrium"], near)


def test_class_balance_per_split(ds):
    for split, idx in ds.groups["splits"].items():
        up = ds["labels/energy_increasing"][idx].mean()
        near = ds["labels/near_equilibrium"][idx].mean()
        assert 0.25 <= up <= 0.75, (split, up)
        if split == "train":
            assert 0.25 <= near <= 0.50, (split, near)
        else:
            assert 0.25 <= near <= 0.75, (split, near)


def test_splits_partition_and_extrapolation_is_disjoint(ds):
    s = ds.groups["splits"]
    assert [len(s[k]) for k in SPLITS] == [300, 50, 100, 100]
    assert all(s[k].dtype == np.int64 for k in SPLITS)
    np.testing.assert_array_equal(np.sort(np.concatenate([s[k] for k in SPLITS])),
                                  np.arange(550))
    L0 = ds["params/L0"]
    for k in ("train", "val", "test_interp"):
        assert 0.5 <= L0[s[k]].min() and L0[s[k]].max() <= 1.5
    assert L0[s["test_extrap"]].min() >= 1.5 and L0[s["test_extrap"]].max() <= 3.0
    assert L0[s["test_extrap"]].min() > L0[s["train"]].max()


def test_deterministic_by_seed():
    a, b, c = _small(3), _small(3), _small(4)
    assert a.attrs == b.attrs
    for g in a.groups:
        for k in a.groups[g]:
            np.testing.assert_array_equal(a.groups[g][k], b.groups[g][k])
    assert not np.array_equal(a["params/L0"], c["params/L0"])
    assert not np.array_equal(a["sequences/theta"], c["sequences/theta"])
    assert c.attrs["seed"] == 4 and a.attrs["theta_star"] != c.attrs["theta_star"]


def test_explicit_theta_star_is_used():
    ds = _small(0, theta_star=0.5)
    assert ds.attrs["theta_star"] == 0.5
    th, om, L = ds["sequences/theta"], ds["sequences/omega"], ds["hidden/L"]
    np.testing.assert_array_equal(ds["labels/near_equilibrium"],
                                  (1 - np.cos(th)) + L * om ** 2 / (2 * 9.81) < 1 - np.cos(0.5))


def test_save_load_round_trip(ds, tmp_path):
    path = save_dataset(ds, tmp_path / "pendulum.h5")
    back = load_dataset(path)
    assert isinstance(back, SequenceDataset)
    assert back.attrs == ds.attrs
    assert {g: set(a) for g, a in back.groups.items()} == \
        {g: set(a) for g, a in ds.groups.items()}
    for g in ds.groups:
        for k, a in ds.groups[g].items():
            assert back.groups[g][k].dtype == a.dtype
            np.testing.assert_array_equal(back.groups[g][k], a)


# ------------------------------------------------------------------ windows
def test_windows_shapes_and_last_step_labels(ds):
    x, y, L = windows(ds, "train")
    n_per_seq = len(range(0, 601 - 50 + 1, 5))          # 111
    assert n_per_seq == 111
    assert x.shape == (300 * 111, 50, 2) and y.shape == (300 * 111, 2)
    assert L.shape == (300 * 111, 50) and y.dtype == bool
    idx = ds.groups["splits"]["train"]
    for seq_pos, w in [(0, 0), (0, 110), (17, 3), (299, 110)]:
        row = seq_pos * 111 + w
        s, start = idx[seq_pos], 5 * w
        np.testing.assert_array_equal(x[row, :, 0], ds["sequences/theta"][s, start:start + 50])
        np.testing.assert_array_equal(x[row, :, 1], ds["sequences/omega"][s, start:start + 50])
        np.testing.assert_array_equal(L[row], ds["hidden/L"][s, start:start + 50])
        assert y[row, 0] == ds["labels/energy_increasing"][s, start + 49]
        assert y[row, 1] == ds["labels/near_equilibrium"][s, start + 49]
    # every window's labels are those of its last step
    last = np.arange(0, 552, 5) + 49
    np.testing.assert_array_equal(
        y[:, 0], ds["labels/energy_increasing"][idx][:, last].reshape(-1))
    np.testing.assert_array_equal(
        y[:, 1], ds["labels/near_equilibrium"][idx][:, last].reshape(-1))
    xv, yv, Lv = windows(ds, "test_extrap", length=601, stride=1)
    assert xv.shape == (100, 601, 2) and yv.shape == (100, 2) and Lv.shape == (100, 601)
    assert np.all(Lv.min(axis=1) > 1.5 * 0.7 - 1e-12)


def test_windows_bad_arguments(ds):
    with pytest.raises(InputError, match="unknown split 'test'.*train, val, test_interp, "
                                         "test_extrap"):
        windows(ds, "test")
    with pytest.raises(InputError, match="longer than the sequences"):
        windows(ds, "train", length=602)
    with pytest.raises(InputError, match="length"):
        windows(ds, "train", length=0)
    with pytest.raises(InputError, match="stride"):
        windows(ds, "train", stride=0)
    with pytest.raises(InputTypeError, match="stride"):
        windows(ds, "train", stride=2.5)
    with pytest.raises(InputError, match="SequenceDataset"):
        windows({"sequences": {}}, "train")


# --------------------------------------------------------------- validation
@pytest.mark.parametrize("kw, match", [
    ({"A": 1.0}, "A must lie in"),
    ({"A": -0.2}, "A must lie in"),
    ({"L0": 0.0}, "L0 must be > 0"),
    ({"L0": [1.0, -1.0]}, "L0 must be > 0"),
    ({"P": 0.0}, "P .* must be > 0"),
    ({"dt": 0.0}, "dt must be"),
    ({"dt": -1e-3}, "dt must be"),
    ({"rate_hz": 30.0}, "rate_hz \\* dt"),
    ({"rate_hz": 2000.0}, "rate_hz \\* dt"),
    ({"duration": 1.01}, "duration \\* rate_hz"),
    ({"duration": 0.0}, "duration must be"),
    ({"theta0": [0.1, 0.2, 0.3], "L0": [1.0, 1.0]}, "same length"),
    ({"omega0": np.nan}, "omega0 must be finite"),
    ({"L0": np.ones((2, 2))}, "1-D"),
    ({"L0": []}, "no sequences"),
])
def test_simulate_rejects_bad_arguments(kw, match):
    args = dict(L0=1.0, A=0.2, P=8.0, phi=0.0, theta0=0.5, omega0=0.0, duration=1.0)
    args.update(kw)
    with pytest.raises(InputError, match=match):
        simulate(**args)


@pytest.mark.parametrize("kw, match", [
    ({"n_train": 0}, "n_train must be >= 1"),
    ({"n_val": 0}, "n_val must be >= 1"),
    ({"n_interp": -3}, "n_interp must be >= 1"),
    ({"n_extrap": 1.5}, "n_extrap must be an integer"),
    ({"seed": -1}, "seed"),
    ({"theta_star": 4.0}, "theta_star"),
    ({"theta_star": 0.0}, "theta_star"),
])
def test_make_pendulum_rejects_bad_arguments(kw, match):
    with pytest.raises(InputError, match=match):
        make_pendulum(**kw)

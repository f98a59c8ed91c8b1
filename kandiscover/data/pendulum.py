"""The variable-length pendulum: a sequence dataset with a hidden driver.

Physics
-------
A point mass hangs from a fixed pivot on a massless string whose length
``L(t) > 0`` is prescribed (reeled in and out); gravity ``g = 9.81`` m/s^2.
With ``theta`` the angle from the downward vertical and ``omega = theta'``,
the Lagrangian per unit mass is ``1/2 (L'^2 + L^2 omega^2) + g L cos(theta)``
and the equation of motion is::

    theta'' = -(g / L) sin(theta) - 2 (L' / L) theta'

The length schedule of each sequence is::

    L(t) = L0 (1 + A sin(2 pi t / P + phi))      A ~ U[0.1, 0.3], P ~ U[6, 15] s,
                                                 phi ~ U[0, 2 pi)
    L'   = L0 A (2 pi / P) cos(2 pi t / P + phi)
    L''  = -L0 A (2 pi / P)^2 sin(2 pi t / P + phi)

(analytic).  The initial state is ``|theta0| ~ U[0.2, 1.0]`` rad with a random
sign and ``omega0 ~ U[-0.5, 0.5]`` rad/s.

The energy per unit mass, the pivot being the reference of height, is::

    E = 1/2 (L'^2 + L^2 omega^2) - g L cos(theta)

It is not conserved when the length changes: the string's tension per unit
mass ``T = g cos(theta) + L omega^2 - L''`` does the work ``-T L'``, so::

    dE/dt = -L' (g cos(theta) + L omega^2 - L'')

(with ``A = 0`` the energy is conserved).

Labels (one per stored sample)
------------------------------
* ``energy_increasing``: ``dE/dt > 0`` with the analytic rate above evaluated
  at the sample (mostly: the string is being shortened).
* ``near_equilibrium``: ``(1 - cos(theta)) + L omega^2 / (2 g) < 1 - cos(theta_star)``.
  The left side is the energy of the pendulum at its current length, relative
  to the bottom and divided by ``g L``; it equals ``1 - cos(amplitude)`` for a
  constant-length pendulum, so the label says "swinging less than theta_star".
  **theta_star rule**: unless given explicitly, ``q*`` is the 45 % quantile
  (``numpy.quantile``, linear interpolation) of the left side over every
  sample of every training sequence, and ``theta_star = arccos(1 - q*)``; so
  45 % of training samples are positive (the target is 25-50 %).  45 % rather
  than the middle of that range because whole sequences tend to fall on one
  side (the label tracks the swing amplitude), so the other splits scatter by
  about +-15 points around it; from 45 % they stay inside 25-75 % (seeds 0-11:
  30-56 %), from 37.5 % some fell to 24 %.  Seed 0 gives theta_star ~ 0.539.
  theta_star is stored in the root attribute ``theta_star`` and the labels
  are computed from that stored value.

Integration
-----------
Classical fourth-order Runge-Kutta with a fixed step ``dt`` (1 ms by default),
vectorised with numpy over all sequences at once; the length and its rate are
evaluated analytically at every stage.  Samples are taken every
``1 / (rate_hz dt)`` steps: at 20 Hz for 30 s there are **601 samples per
sequence, t = 0 included**, at ``t = arange(601) / sample_rate_hz``.  With
``A = 0`` the energy drifts by a few 1e-12 relative over 30 s; against
scipy's DOP853 at rtol 1e-11 the angle agrees to ~1e-11 rad.

Dataset (``make_pendulum``; schema in :mod:`kandiscover.data.dataset`)
----------------------------------------------------------------------
Splits by sequence, stored in this order: ``train`` (300), ``val`` (50) and
``test_interp`` (100) with ``L0 ~ U[0.5, 1.5]`` m, then ``test_extrap`` (100)
with ``L0 ~ U[1.5, 3.0]`` m.  Groups: ``sequences`` {theta, omega},
``hidden`` {L, L_dot, L_ddot}, ``labels`` {energy_increasing,
near_equilibrium} (bool), all (n_seq, n_steps); ``params`` {L0, A, P, phi,
theta0, omega0} (n_seq,); ``splits`` {train, val, test_interp, test_extrap}
(int64 indices).  Root attributes: ``g``, ``sample_rate_hz``, ``theta_star``,
``seed``, ``generator_version``, ``duration_s``, ``dt``, ``window``, ``stride``.
Random draws come from ``numpy.random.default_rng(seed)`` only, so a seed
gives the same dataset every time.

:func:`windows` cuts the sequences of one split into windows for sequence
models: 50 steps (2.5 s) with stride 5, the labels taken at each window's
last step.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import InputError
from .dataset import SequenceDataset

__all__ = ["simulate", "energy", "energy_rate", "make_pendulum", "windows", "pendulum_view",
           "analytic_decisions", "LABELS",
           "GENERATOR_VERSION", "G", "SPLITS", "THETA_STAR_QUANTILE"]

GENERATOR_VERSION = 1
G = 9.81
SPLITS = ("train", "val", "test_interp", "test_extrap")
LABELS = ("energy_increasing", "near_equilibrium")
THETA_STAR_QUANTILE = 0.45
INTERP_L0 = (0.5, 1.5)
EXTRAP_L0 = (1.5, 3.0)
A_RANGE = (0.1, 0.3)
P_RANGE = (6.0, 15.0)
THETA0_RANGE = (0.2, 1.0)
OMEGA0_RANGE = (-0.5, 0.5)
WINDOW = 50
STRIDE = 5

_CHUNK_STEPS = 1000     # RK4 steps whose length coefficients are evaluated at once


# ----------------------------------------------------------------- physics
def energy(theta, omega, L, L_dot, g: float = G) -> np.ndarray:
    """Energy per unit mass, pivot as reference: ``1/2 (L'^2 + L^2 w^2) - g L cos(theta)``."""
    theta, omega, L, L_dot = (np.asarray(a, dtype=float) for a in (theta, omega, L, L_dot))
    return 0.5 * (L_dot ** 2 + L ** 2 * omega ** 2) - g * L * np.cos(theta)


def energy_rate(theta, omega, L, L_dot, L_ddot, g: float = G) -> np.ndarray:
    """``dE/dt = -L' (g cos(theta) + L omega^2 - L'')`` (the tension's power)."""
    theta, omega, L, L_dot, L_ddot = (np.asarray(a, dtype=float)
                                      for a in (theta, omega, L, L_dot, L_ddot))
    return -L_dot * (g * np.cos(theta) + L * omega ** 2 - L_ddot)


def _equilibrium_measure(theta, omega, L, g):
    """``(1 - cos(theta)) + L omega^2 / (2 g)``: energy at the current length / (g L)."""
    return (1 - np.cos(theta)) + L * omega ** 2 / (2 * g)


def _length(L0, A, k, phi, t):
    """L, L', L'' at times ``t`` (broadcast against the per-sequence parameters)."""
    phase = k * t + phi
    s, c = np.sin(phase), np.cos(phase)
    return L0 * (1 + A * s), L0 * A * k * c, -L0 * A * k ** 2 * s


# -------------------------------------------------------------- validation
def _positive_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value}")
    return value


def _count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _whole(x: float, what: str) -> int:
    n = int(round(x))
    if n < 1 or abs(x - n) > 1e-9 * max(1.0, x):
        raise InputError(what)
    return n


# --------------------------------------------------------------- simulate
def simulate(L0, A, P, phi, theta0, omega0, duration: float = 30.0, rate_hz: float = 20.0,
             dt: float = 1e-3, g: float = G) -> dict[str, np.ndarray]:
    """Integrate the variable-length pendulum for many sequences at once.

    The six parameters are scalars or 1-D arrays (broadcast together; one
    sequence per element).  Classical RK4 with the fixed step ``dt``; one
    sample every ``1 / (rate_hz dt)`` steps (an integer), ``duration * rate_hz``
    intervals (an integer), t = 0 included.

    Returns a dict with ``t`` (n_steps,) and ``theta``, ``omega``, ``L``,
    ``L_dot``, ``L_ddot``, ``E`` and ``dE_dt`` (n_seq, n_steps).
    """
    duration = _positive_number(duration, "duration")
    rate_hz = _positive_number(rate_hz, "rate_hz")
    dt = _positive_number(dt, "dt")
    g = _positive_number(g, "g")
    names = ("L0", "A", "P", "phi", "theta0", "omega0")
    try:
        arrays = [np.asarray(v, dtype=float) for v in (L0, A, P, phi, theta0, omega0)]
    except (TypeError, ValueError):
        raise InputError("L0, A, P, phi, theta0 and omega0 must be numbers or 1-D arrays "
                         "of numbers") from None
    for name, a in zip(names, arrays):
        if a.ndim > 1:
            raise InputError(f"{name} must be a scalar or a 1-D array, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{name} must be finite (no NaN or infinity)")
    try:
        L0, A, P, phi, theta0, omega0 = np.broadcast_arrays(*(np.atleast_1d(a) for a in arrays))
    except ValueError:
        raise InputError("L0, A, P, phi, theta0 and omega0 must have the same length "
                         f"(or be scalars); got lengths {[np.size(a) for a in arrays]}") from None
    if L0.size == 0:
        raise InputError("no sequences to simulate (the parameter arrays are empty)")
    if np.any(L0 <= 0):
        raise InputError(f"L0 must be > 0 (the string length), got min {L0.min():g}")
    if np.any(A < 0) or np.any(A >= 1):
        raise InputError("A must lie in [0, 1) so that L(t) = L0 (1 + A sin(...)) stays > 0; "
                         f"got range [{A.min():g}, {A.max():g}]")
    if np.any(P <= 0):
        raise InputError(f"P (the period of the length schedule) must be > 0, got min "
                         f"{P.min():g}")
    per_sample = _whole(1.0 / (rate_hz * dt),
                        f"rate_hz * dt must be 1/k for a whole k >= 1 (one sample every k "
                        f"integrator steps); got rate_hz={rate_hz:g}, dt={dt:g}")
    n_int = _whole(duration * rate_hz,
                   f"duration * rate_hz must be a whole number >= 1 of sampling intervals; "
                   f"got duration={duration:g}, rate_hz={rate_hz:g}")
    n_steps_total = n_int * per_sample

    n = L0.size
    k = 2 * np.pi / P
    g_L0 = g / L0                      # g / L = g_L0 / (1 + A s)
    two_Ak = 2 * A * k                 # 2 L' / L = two_Ak c / (1 + A s)
    theta = theta0.copy()
    omega = omega0.copy()
    theta_out = np.empty((n, n_int + 1))
    omega_out = np.empty((n, n_int + 1))
    theta_out[:, 0], omega_out[:, 0] = theta, omega
    h, h2, h6 = dt, dt / 2, dt / 6

    step = 0
    chunk = max(1, _CHUNK_STEPS // per_sample) * per_sample
    while step < n_steps_total:
        m = min(chunk, n_steps_total - step)
        # coefficients at the 2 m + 1 half steps of this chunk (global index -> time)
        t_half = (np.arange(2 * step, 2 * (step + m) + 1) * h2)[:, None]
        phase = k * t_half + phi
        s, c = np.sin(phase), np.cos(phase)
        inv = 1.0 / (1.0 + A * s)
        a_coef = g_L0 * inv            # g / L
        b_coef = two_Ak * c * inv      # 2 L' / L
        for j in range(m):
            a0, b0 = a_coef[2 * j], b_coef[2 * j]
            a1, b1 = a_coef[2 * j + 1], b_coef[2 * j + 1]
            a2, b2 = a_coef[2 * j + 2], b_coef[2 * j + 2]
            k1t = omega
            k1w = -a0 * np.sin(theta) - b0 * omega
            w2 = omega + h2 * k1w
            k2w = -a1 * np.sin(theta + h2 * k1t) - b1 * w2
            w3 = omega + h2 * k2w
            k3w = -a1 * np.sin(theta + h2 * w2) - b1 * w3
            w4 = omega + h * k3w
            k4w = -a2 * np.sin(theta + h * w3) - b2 * w4
            theta = theta + h6 * (k1t + 2 * w2 + 2 * w3 + w4)
            omega = omega + h6 * (k1w + 2 * k2w + 2 * k3w + k4w)
            done = step + j + 1
            if done % per_sample == 0:
                i = done // per_sample
                theta_out[:, i], omega_out[:, i] = theta, omega
        step += m
    if not (np.all(np.isfinite(theta_out)) and np.all(np.isfinite(omega_out))):
        raise InputError("the integration diverged (non-finite angle); use a smaller dt")

    t = np.arange(n_int + 1) * (per_sample * dt)
    L, L_dot, L_ddot = _length(L0[:, None], A[:, None], k[:, None], phi[:, None], t[None, :])
    return {"t": t, "theta": theta_out, "omega": omega_out, "L": L, "L_dot": L_dot,
            "L_ddot": L_ddot, "E": energy(theta_out, omega_out, L, L_dot, g),
            "dE_dt": energy_rate(theta_out, omega_out, L, L_dot, L_ddot, g)}


# ----------------------------------------------------------------- dataset
def make_pendulum(seed: int = 0, n_train: int = 300, n_val: int = 50, n_interp: int = 100,
                  n_extrap: int = 100, duration: float = 30.0, rate_hz: float = 20.0,
                  dt: float = 1e-3, theta_star: float | None = None) -> SequenceDataset:
    """Simulate the variable-length pendulum dataset (see the module docstring).

    ``theta_star`` (radians, in (0, pi]) fixes the near-equilibrium threshold;
    by default it is chosen from the training split so that 45 % of its
    samples are positive.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    counts = {"train": _count(n_train, "n_train"), "val": _count(n_val, "n_val"),
              "test_interp": _count(n_interp, "n_interp"),
              "test_extrap": _count(n_extrap, "n_extrap")}
    if theta_star is not None:
        theta_star = _positive_number(theta_star, "theta_star")
        if theta_star > np.pi:
            raise InputError(f"theta_star must lie in (0, pi], got {theta_star}")
    rng = np.random.default_rng(int(seed))

    params: dict[str, list[np.ndarray]] = {k: [] for k in
                                           ("L0", "A", "P", "phi", "theta0", "omega0")}
    splits: dict[str, np.ndarray] = {}
    start = 0
    for split, n in counts.items():
        lo, hi = EXTRAP_L0 if split == "test_extrap" else INTERP_L0
        params["L0"].append(rng.uniform(lo, hi, n))
        params["A"].append(rng.uniform(*A_RANGE, n))
        params["P"].append(rng.uniform(*P_RANGE, n))
        params["phi"].append(rng.uniform(0.0, 2 * np.pi, n))
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        params["theta0"].append(sign * rng.uniform(*THETA0_RANGE, n))
        params["omega0"].append(rng.uniform(*OMEGA0_RANGE, n))
        splits[split] = np.arange(start, start + n, dtype=np.int64)
        start += n
    p = {k: np.concatenate(v) for k, v in params.items()}

    sim = simulate(p["L0"], p["A"], p["P"], p["phi"], p["theta0"], p["omega0"],
                   duration=duration, rate_hz=rate_hz, dt=dt, g=G)
    measure = _equilibrium_measure(sim["theta"], sim["omega"], sim["L"], G)
    if theta_star is None:
        q_star = float(np.quantile(measure[splits["train"]], THETA_STAR_QUANTILE))
        theta_star = float(np.arccos(np.clip(1.0 - q_star, -1.0, 1.0)))
    labels = {"energy_increasing": sim["dE_dt"] > 0,
              "near_equilibrium": measure < 1 - np.cos(theta_star)}

    attrs = {"g": G, "sample_rate_hz": float(rate_hz), "theta_star": theta_star,
             "seed": int(seed), "generator_version": GENERATOR_VERSION,
             "duration_s": float(duration), "dt": float(dt), "window": WINDOW,
             "stride": STRIDE, "source": "kandiscover.data.pendulum"}
    groups = {"sequences": {"theta": sim["theta"], "omega": sim["omega"]},
              "hidden": {"L": sim["L"], "L_dot": sim["L_dot"], "L_ddot": sim["L_ddot"]},
              "labels": labels, "params": p, "splits": splits}
    return SequenceDataset(groups, attrs)


# ----------------------------------------------------------------- windows
def windows(ds: SequenceDataset, split: str, length: int = WINDOW, stride: int = STRIDE
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of one split for sequence models.

    Returns ``inputs`` (n, length, 2) float64 = (theta, omega), ``labels``
    (n, 2) bool = (energy_increasing, near_equilibrium) at each window's last
    step, and ``hidden_L`` (n, length).  Windows start at 0, stride, 2 stride,
    ... as long as they fit; they are ordered by sequence (the split's order),
    then by start.
    """
    if not isinstance(ds, SequenceDataset):
        raise InputError(f"windows expects a SequenceDataset, got {type(ds).__name__}")
    for path in ("sequences/theta", "sequences/omega", "hidden/L",
                 "labels/energy_increasing", "labels/near_equilibrium"):
        try:
            ds[path]
        except KeyError:
            raise InputError(f"not a pendulum dataset: it has no {path!r}") from None
    w = pendulum_view(ds).windows(split, length, stride)
    return w.inputs, w.labels.astype(bool), w.hidden["L"]


def pendulum_view(ds: SequenceDataset) -> SequenceDataset:
    """``ds`` with its sequences ordered (theta, omega) and its labels
    (energy_increasing, near_equilibrium), other arrays shared."""
    groups = dict(ds.groups)
    groups["sequences"] = {k: ds.groups["sequences"][k] for k in ("theta", "omega")}
    groups["labels"] = {k: ds.groups["labels"][k] for k in LABELS}
    return SequenceDataset(groups, ds.attrs)



def analytic_decisions(ds: SequenceDataset) -> dict[str, np.ndarray]:
    """The labels' defining quantities, positive exactly where the label is 1.

    ``energy_increasing``: ``dE/dt = -L' (g cos(theta) + L omega^2 - L'')``;
    ``near_equilibrium``: ``(1 - cos(theta_star)) - [(1 - cos(theta)) + L omega^2 / (2 g)]``.
    Each (n_sequences, n_steps), from the dataset's own hidden variables and
    root attributes ``g`` and ``theta_star``.
    """
    try:
        theta, omega = ds["sequences/theta"], ds["sequences/omega"]
        L, L_dot, L_ddot = ds["hidden/L"], ds["hidden/L_dot"], ds["hidden/L_ddot"]
        g, theta_star = float(ds.attrs["g"]), float(ds.attrs["theta_star"])
    except KeyError as exc:
        raise InputError(f"not a pendulum dataset: {exc.args[0]}") from None
    return {"energy_increasing": energy_rate(theta, omega, L, L_dot, L_ddot, g),
            "near_equilibrium": (1 - np.cos(theta_star))
            - _equilibrium_measure(theta, omega, L, g)}

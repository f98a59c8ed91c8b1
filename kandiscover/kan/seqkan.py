r"""seqKAN: a recurrent network whose two maps are KANs.

After Boura & Konstantopoulos (2025), *seqKAN: Sequence processing with
Kolmogorov-Arnold Networks* (arXiv 2502.14681).  A sequence
:math:`x_0, \dots, x_{T-1}` (``input_size`` features per step) is read one
step at a time::

    h_t = s(Phi_h(x_t, h_{t-1}))          hidden state, h_{-1} = 0
    y_t = Phi_o(x_{t-1}, h_t)             logits,       x_{-1} = 0   (variant="standard")
    y_t = Phi_o(h_t)                                                 (variant="wide")

The standard variant routes the *previous* input straight to the output map
next to the new state; the wide variant (the paper's seqKAN/wide) reads the
state only and is meant for a larger ``hidden_size``.  ``Phi_h`` and
``Phi_o`` are plain :class:`~kandiscover.KAN` objects (``model.phi_h``,
``model.phi_o``) taking 2-D (samples, features) inputs, so pruning,
attribution, plotting, :func:`~kandiscover.auto_symbolic` and
:func:`~kandiscover.to_sympy` apply to them directly; :meth:`SeqKAN.traced_inputs`
gives the input samples they see on a batch of sequences.  Column order:
``Phi_h`` takes ``[x_t (n_features), h_{t-1} (hidden_size)]``, ``Phi_o``
takes ``[x_{t-1} (n_features), h_t (hidden_size)]`` or ``[h_t]``, where
``n_features`` is ``input_size`` (with ``window_scale``, ``2 * input_size``
for ``"rms"``, ``3/2 * input_size`` for ``"oscillator"``).

Keeping values inside the spline grids
--------------------------------------
A B-spline edge is zero outside its grid (plus ``k`` extension intervals),
leaving only its SiLU part, so the inputs of both maps must live where the
knots are.  Two mechanisms:

* **Input normalisation.**  Sequences are standardised per feature,
  ``z = (x - mean) / std``, with the ``x_mean`` / ``x_std`` buffers set by
  :meth:`SeqKAN.fit_normalization` (called by the first :meth:`SeqKAN.fit`
  when it has not been set).  ``x_{-1} = 0`` holds in these *normalised*
  units (the padding equals the training mean in raw units).
* **Grid updates from traced inputs.**  At the start of the epochs listed in
  ``fit(grid_update_epochs=...)`` (default: before the first epoch and after
  one warm-up epoch) both maps' knots move to the quantiles of the inputs they
  receive on a training subsample (:meth:`KAN.update_grid`, which keeps every
  edge's function).  The hidden-state columns are padded so their grid never
  collapses onto a narrow early range: to ``[-1, 1]`` with ``squash="tanh"``,
  by half the observed span on each side with ``squash="none"``.

* **Grid extension.**  ``fit(grid_refine={epoch: new_grid})`` (or
  :meth:`SeqKAN.refine_grids`) gives both maps a finer grid part-way through
  training, the coarse-to-fine schedule of the KAN paper: the coarse grid is
  easier to train, the fine one fits closer.

The hidden state itself is bounded by the squashing ``s``:

* ``squash="tanh"`` (default): ``h_t = tanh(Phi_h(...))`` lies in (-1, 1)
  for every sequence length and for inputs unlike the training data, so it
  always stays on the grid of the next step and of ``Phi_o``.  The price for
  interpretability: ``to_sympy(model.phi_h)`` is the *pre-activation*; the
  recurrence is ``h_t = tanh(<that formula>)``.
* ``squash="none"``: ``h_t = Phi_h(...)`` exactly, as in the paper, so the
  formula of ``Phi_h`` is the state update itself; nothing bounds ``h`` but
  the training data and the grid updates, so long or unusual sequences can
  leave the grid (and then only the SiLU parts act).

Either way the formulas are in normalised input units: substitute
``(x - x_mean) / x_std`` (:meth:`SeqKAN.normalization`) to read them in raw units.

Per-sequence scaling (``window_scale``)
---------------------------------------
When the overall size of a sequence varies a lot between sequences while the
signal to detect is a slow change *within* it (a swing growing by a few per
cent over a window), that common size sits on top of the signal and an
additive recurrence trained by gradient descent does not get under it.  With
``window_scale`` the maps read per-sequence scaled features instead of the
raw ones (:func:`scale_windows`; then standardised as above):

* ``"rms"`` (or True), :func:`window_scaled`: each feature divided by its
  root mean square over the sequence, plus the log of that RMS as a constant
  extra feature (``2 * input_size`` map inputs);
* ``"oscillator"``, :func:`oscillator_scaled`: the inputs are (position,
  velocity) pairs sampled every ``dt``; each pair is divided by the swing
  amplitude (the velocity also by the fitted angular frequency), plus the log
  amplitude (``3/2 * input_size`` map inputs).  The sum of the two squared
  features is then the oscillator's energy relative to its mean over the
  window whatever the phase, also for windows shorter than one swing, which
  the RMS scaling is not.

The model still takes raw sequences, and
:func:`kandiscover.symbolic.seqrules.symbolify_seqkan` writes the rules in raw
variables (``theta / theta_rms``, ``log(theta_rms)``; ``theta / theta_amp``,
``omega / (theta_w0 theta_amp)``).  The statistics are over the whole sequence
given, so the state at step t depends on later steps of the same window; the
label at the last step does not look ahead.

Training (:meth:`SeqKAN.fit`) is Adam on the binary cross-entropy of the
*last* step's logits, with the optional sparsity penalty of
:mod:`kandiscover.sparsify.regularize` on both maps, early stopping on the
validation loss (the best weights are restored), and every random choice
drawn from a local ``torch.Generator`` (the loop is
:func:`kandiscover.kan.seqtrain.train_last_step`, shared with the sequence
baselines).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .._validation import check_int, check_positive
from ..errors import InputError, InputTypeError
from ..sparsify.regularize import regularization, spline_roughness
from .network import KAN
from .seqtrain import _sequences
from .seqtrain import check_schedule, check_settings, sequence_data, train_last_step
from .train import History

__all__ = ["SeqKAN", "window_scaled", "oscillator_scaled", "oscillator_stats",
           "scale_windows", "n_scaled_features", "SCALINGS", "output_map_seed"]

_VARIANTS = ("standard", "wide")
_SQUASH = ("tanh", "none")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


_TINY = 1e-12


def window_scaled(x: Any) -> Any:
    """Per-sequence amplitude scaling of sequences (n, time, F) -> (n, time, 2F).

    Features ``[x_i / r_i, log r_i]`` with ``r_i = sqrt(mean_t x_i^2)`` the
    root mean square of feature i over each sequence (at least 1e-12).  A
    torch tensor gives a tensor (float64 for an integer one; differentiable,
    also for a silent window), anything else a float64 numpy array; the input
    is not modified.  The RMS is over the sequence given: a model trained on windows
    of one length should be read on windows of that length.
    """
    if isinstance(x, torch.Tensor):
        if x.ndim != 3:
            raise InputError(f"window_scaled expects sequences (n, time, features), got "
                             f"shape {tuple(x.shape)}")
        if not x.is_floating_point():
            x = x.double()
        rms = (x * x).mean(1, keepdim=True).clamp_min(_TINY * _TINY).sqrt()
        return torch.cat([x / rms, torch.log(rms).expand_as(x)], 2)
    return window_scaled(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()


def oscillator_stats(x: Any, dt: float) -> Any:
    """Swing amplitude and angular frequency of oscillating sequences.

    ``x`` (n, time, 2P) holds P (position q, velocity v = dq/dt) pairs sampled
    every ``dt``, oscillating about q = 0.  Per sequence and pair: ``w0``, the
    angular frequency of the linear oscillator ``v' = -w0^2 q`` that fits the
    sequence best in least squares (``w0^2 = -mean(q v') / mean(q^2)``, ``v'``
    by central differences), and the amplitude ``a = sqrt(mean(q^2 + v^2 /
    w0^2))``.  A sequence with no restoring force to fit (``mean(q v') >= 0``:
    noise, a drift, a silent sequence) gets ``w0 = rms(v) / rms(q)``, which
    weighs q and v alike.  Returns ``(a, w0)``, each (n, 1, P): tensors for a
    tensor (float64 for an integer one), float64 arrays for anything else.
    """
    if not isinstance(x, torch.Tensor):
        a, w0 = oscillator_stats(torch.as_tensor(np.asarray(x, dtype=np.float64)), dt)
        return a.numpy(), w0.numpy()
    if x.ndim != 3 or x.shape[2] % 2:
        raise InputError("oscillator scaling expects sequences (n, time, features) of "
                         f"(position, velocity) pairs, got shape {tuple(x.shape)}")
    if x.shape[1] < 2:
        raise InputError("oscillator scaling needs sequences of at least 2 steps, got "
                         f"{x.shape[1]}")
    dt = check_positive(dt, "dt")
    if not x.is_floating_point():
        x = x.double()
    q, v = x[..., 0::2], x[..., 1::2]
    acc = torch.gradient(v, spacing=dt, dim=1)[0]
    msq = (q * q).mean(1, keepdim=True).clamp_min(_TINY * _TINY)
    fit = -(q * acc).mean(1, keepdim=True) / msq
    w0sq = torch.where(fit > _TINY, fit, (v * v).mean(1, keepdim=True) / msq)
    w0sq = w0sq.clamp_min(_TINY * _TINY)
    amp = (q * q + v * v / w0sq).mean(1, keepdim=True).clamp_min(_TINY * _TINY).sqrt()
    return amp, w0sq.sqrt()


def oscillator_scaled(x: Any, dt: float) -> Any:
    """Phase-free scaling of oscillating sequences (n, time, 2P) -> (n, time, 3P).

    With ``a`` and ``w0`` from :func:`oscillator_stats`, the features are
    ``[q_1 / a_1, v_1 / (w0_1 a_1), ..., q_P / a_P, v_P / (w0_P a_P),
    log a_1, ..., log a_P]``.  Unlike a root mean square per feature
    (:func:`window_scaled`), ``(q/a)^2 + (v/(w0 a))^2`` is the oscillator's
    energy over its mean over the sequence *at every phase*, also when the
    sequence holds less than one swing.  The frequency itself is not a
    feature: it only serves to put ``v`` on the scale of ``q``, and it is the
    quantity that moves out of range when the oscillator does (a pendulum's
    longer string); :func:`oscillator_stats` gives it.  Types as
    :func:`oscillator_stats`.
    """
    if not isinstance(x, torch.Tensor):
        return oscillator_scaled(torch.as_tensor(np.asarray(x, dtype=np.float64)), dt).numpy()
    amp, w0 = oscillator_stats(x, dt)
    if not x.is_floating_point():
        x = x.double()
    q, v = x[..., 0::2], x[..., 1::2]
    scaled = torch.stack([q / amp, v / (w0 * amp)], 3).flatten(2)
    return torch.cat([scaled, torch.log(amp).expand_as(q)], 2)


def output_map_seed(seed: int) -> int:
    """The seed of Phi_o's initial draws in ``SeqKAN(seed=seed)``.

    Phi_h draws from ``torch.Generator().manual_seed(seed)``, and so does
    :meth:`SeqKAN.fit`'s shuffling by default.  Phi_o's seed comes from
    ``numpy.random.SeedSequence(seed)``'s entropy mixing (spawn key 1), so it
    is far from every small seed: with ``seed + 1``, the Phi_o of the run with
    seed s drew the same numbers as the Phi_h and the shuffling of the run with
    seed s + 1, and replicate runs were not independent.
    """
    state = np.random.SeedSequence(int(seed), spawn_key=(1,)).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1        # 62 bits


#: the per-sequence scalings of :func:`scale_windows` and ``SeqKAN(window_scale=...)``
SCALINGS = ("rms", "oscillator")


def _pair(value: Any, name: str) -> tuple[float, float]:
    """A non-negative weight for both maps, or a pair (Phi_h, Phi_o)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise InputError(f"{name} must be one weight or a pair (Phi_h, Phi_o), got "
                             f"{value!r}")
        return (check_positive(value[0], f"{name}[0]", allow_zero=True),
                check_positive(value[1], f"{name}[1]", allow_zero=True))
    w = check_positive(value, name, allow_zero=True)
    return w, w


def _refinements(value: Any, grid: int) -> dict[int, int]:
    """``fit(grid_refine=...)`` validated: {epoch: new grid}, each grid finer
    than the one before it."""
    if value is None:
        return {}
    try:
        pairs = list(value.items() if isinstance(value, dict) else value)
        out = {check_int(e, "grid_refine epoch", 0): check_int(g, "grid_refine grid", 1)
               for e, g in pairs}
        if len(out) != len(pairs):
            raise InputError("an epoch is given twice")
    except (TypeError, ValueError, InputError) as exc:
        raise InputError(f"grid_refine must be {{epoch: new_grid}} or [(epoch, new_grid), "
                         f"...] with each grid finer than the one before, got {value!r} "
                         f"({exc})") from None
    for e in sorted(out):
        if out[e] <= grid:
            raise InputError(f"grid_refine asks for {out[e]} grid intervals at epoch {e}, "
                             f"not more than the {grid} before it; a refinement makes "
                             "the grid finer")
        grid = out[e]
    return out


def _layer_width(value: Any, name: str, allow_zero: bool = False
                 ) -> int | tuple[int, int] | None:
    """A validated hidden-layer width: None (no layer), a width >= 1 or
    ``(n_sum, n_mult)`` with at least one node; 0 means None where allowed."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputError(f"{name} must be a width or (n_sum, n_mult), got {value!r}")
        pair = (check_int(value[0], f"{name} n_sum", 0), check_int(value[1], f"{name} n_mult", 0))
        if sum(pair) == 0:
            raise InputError(f"{name} (n_sum, n_mult) needs at least one node")
        return pair
    if value is None:
        return None
    width = check_int(value, name, 0 if allow_zero else 1)
    return width or None


def _scaling(scale: Any, dt: Any, n_inputs: int, name: str = "window_scale"
             ) -> tuple[str | bool, float | None]:
    """Validated ``(scale, dt)``: False or a :data:`SCALINGS` name (True means
    ``"rms"``), and dt (a number > 0 for ``"oscillator"``, else None)."""
    if isinstance(scale, (bool, np.bool_)):
        scale = "rms" if scale else False
    if scale is not False and not (isinstance(scale, str) and scale in SCALINGS):
        raise InputError(f"{name} must be False, True, {', '.join(map(repr, SCALINGS))}; "
                         f"got {scale!r}")
    if scale != "oscillator":
        if dt is not None:
            raise InputError(f"dt is only used with {name}='oscillator'")
        return scale, None
    if n_inputs % 2:
        raise InputError(f"{name}='oscillator' reads (position, velocity) pairs; the "
                         f"number of input features must be even, got {n_inputs}")
    if dt is None:
        raise InputError(f"{name}='oscillator' needs dt, the sampling interval")
    return scale, check_positive(dt, "dt")


def n_scaled_features(scale: str | bool, n_inputs: int) -> int:
    """Features per step after :func:`scale_windows` of ``n_inputs`` features."""
    return {False: n_inputs, "rms": 2 * n_inputs, "oscillator": 3 * n_inputs // 2}[scale]


def scale_windows(x: Any, scale: str | bool, dt: float | None = None) -> Any:
    """Sequences ``x`` (n, time, F) under a per-sequence scaling: unchanged
    (False), :func:`window_scaled` (``"rms"`` or True) or
    :func:`oscillator_scaled` (``"oscillator"``, sampled every ``dt``)."""
    scale, dt = _scaling(scale, dt, np.shape(x)[-1], "scale")
    return _scaled(x, scale, dt)


def _scaled(x: Any, scale: str | bool, dt: float | None) -> Any:
    """:func:`scale_windows` with ``scale`` and ``dt`` already validated."""
    if scale == "rms":
        return window_scaled(x)
    return oscillator_scaled(x, dt) if scale == "oscillator" else x


class SeqKAN(nn.Module):
    """Recurrent KAN for sequence classification (see the module docstring).

    Parameters
    ----------
    input_size : features per time step
    hidden_size : dimension of the hidden state
    output_size : number of binary outputs (logits)
    variant : ``"standard"`` (Phi_o reads x_{t-1} and h_t) or ``"wide"`` (h_t only)
    hidden_width : optional hidden layer inside Phi_h and Phi_o: a width, or
        ``(n_sum, n_mult)`` for sum and multiplication nodes (KAN 2.0), which
        lets the maps form products of their inputs, as an LSTM's gates do
    output_width : hidden layer of Phi_o alone, in the same forms: None (the
        default) gives Phi_o the layer of ``hidden_width``, 0 none, so a
        one-layer Phi_h (which keeps the ``memory`` start and the fast unroll)
        can feed a two-layer Phi_o; ``(4, 2)`` lets the output rule multiply its
        inputs (hidden units, and the previous input in the standard variant)
    grid, k : spline grid intervals and order of both maps
    squash : ``"tanh"`` (bounded hidden state) or ``"none"``
    memory : ``(tau_min, tau_max)`` in steps: each hidden unit starts as a
        leaky memory ``h_t ~ (1 - 1/tau_k) h_{t-1} + ...`` with time constants
        spread over this range (the role of an LSTM's forget-gate bias; a
        random start forgets within a few steps and trains far worse on
        slowly varying hidden variables); None: random like the other edges.
        Applies when Phi_h has no hidden layer.
    window_scale : per-sequence scaling of the maps' inputs (see the module
        docstring): False (none), ``"rms"`` or True (:func:`window_scaled`: each
        feature over its RMS in the sequence, and the log RMS) or
        ``"oscillator"`` (:func:`oscillator_scaled`: (position, velocity) pairs
        over the swing amplitude, and its log; needs ``dt``)
    dt : sampling interval of the sequences (for the oscillator scaling only)
    seed : seeds the initial parameters (Phi_h: ``seed``; Phi_o: a stream
        derived from it, :func:`output_map_seed`, so that no two seeds share
        draws) and, by default, the shuffling of :meth:`fit`
    dtype : torch.float32 or torch.float64
    """

    def __init__(self, input_size: int, hidden_size: int = 1, output_size: int = 1,
                 variant: str = "standard",
                 hidden_width: int | tuple[int, int] | None = None,
                 output_width: int | tuple[int, int] | None = None,
                 grid: int = 5, k: int = 3, squash: str = "tanh",
                 memory: tuple[float, float] | None = (2.0, 20.0),
                 window_scale: bool | str = False, dt: float | None = None,
                 seed: int = 0,
                 dtype: torch.dtype | str = torch.float32):
        super().__init__()
        input_size = check_int(input_size, "input_size", 1)
        hidden_size = check_int(hidden_size, "hidden_size", 1)
        output_size = check_int(output_size, "output_size", 1)
        seed = check_int(seed, "seed", 0)
        if variant not in _VARIANTS:
            raise InputError(f"variant must be 'standard' or 'wide', got {variant!r}")
        if squash not in _SQUASH:
            raise InputError(f"squash must be 'tanh' or 'none', got {squash!r}")
        hidden_width = _layer_width(hidden_width, "hidden_width")
        output_width = (hidden_width if output_width is None
                        else _layer_width(output_width, "output_width", allow_zero=True))
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
            dtype = _DTYPES[dtype]
        window_scale, dt = _scaling(window_scale, dt, input_size)
        n_feat = n_scaled_features(window_scale, input_size)
        mid_h = [] if hidden_width is None else [hidden_width]
        mid_o = [] if output_width is None else [output_width]
        n_o = hidden_size if variant == "wide" else n_feat + hidden_size
        self.phi_h = KAN([n_feat + hidden_size, *mid_h, hidden_size], grid=grid, k=k,
                         seed=seed, dtype=dtype)
        self.phi_o = KAN([n_o, *mid_o, output_size], grid=grid, k=k,
                         seed=output_map_seed(seed),
                         dtype=dtype)
        if memory is not None:
            if (not isinstance(memory, (tuple, list, np.ndarray))) or len(memory) != 2:
                raise InputError(f"memory must be None or a pair (tau_min, tau_max) of "
                                 f"time constants in steps, got {memory!r}")
            memory = (check_positive(memory[0], "memory[0]"), check_positive(memory[1],
                                                                               "memory[1]"))
            if not 1.0 <= memory[0] <= memory[1]:
                raise InputError(f"memory must be (tau_min, tau_max) with 1 <= tau_min <= "
                                 f"tau_max steps, got {memory}")
            if hidden_width is None:
                self._init_memory(n_feat, hidden_size, memory)
        self.input_size, self.hidden_size, self.output_size = (input_size, hidden_size,
                                                               output_size)
        self.window_scale, self.dt, self.n_features = window_scale, dt, n_feat
        self.variant, self.squash, self.seed = variant, squash, seed
        self.config: dict[str, Any] = dict(
            input_size=input_size, hidden_size=hidden_size, output_size=output_size,
            variant=variant, hidden_width=hidden_width,
            output_width=0 if output_width is None else output_width, grid=grid, k=k,
            squash=squash,
            memory=None if memory is None else list(memory), window_scale=window_scale,
            dt=dt, seed=seed, dtype=str(dtype).replace("torch.", ""))
        self.register_buffer("x_mean", torch.zeros(n_feat, dtype=dtype))
        self.register_buffer("x_std", torch.ones(n_feat, dtype=dtype))
        self.register_buffer("normalized", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _init_memory(self, n_in: int, n_hidden: int, tau: tuple[float, float]) -> None:
        """Start each hidden unit as a leaky memory: its edge from its own previous
        value is the line ``a_k h`` (spline part only), ``a_k = 1 - 1/tau_k`` with
        time constants ``tau_k`` spread geometrically over ``tau`` steps."""
        from .spline import curve_to_coef

        layer = self.phi_h.layers[0]
        taus = np.geomspace(tau[0], tau[1], n_hidden) if n_hidden > 1 else \
            np.array([math.sqrt(tau[0] * tau[1])])
        for kk, t in enumerate(taus):
            i = n_in + kk
            lo, hi = layer.grid[i, 0], layer.grid[i, -1]
            pts = torch.linspace(float(lo), float(hi), 64, dtype=layer.grid.dtype)
            target = (1.0 - 1.0 / float(t)) * pts
            coef = curve_to_coef(pts[:, None], target[:, None, None], layer.knots[i:i + 1],
                                 layer.k)
            layer.coef[i, kk] = coef[0, 0].to(layer.coef.dtype)
            layer.scale_base[i, kk] = 0.0
            layer.scale_sp[i, kk] = 1.0

    # ------------------------------------------------------------ helpers
    @property
    def dtype(self) -> torch.dtype:
        return self.phi_h.dtype

    def _apply(self, fn, *args, **kwargs):
        # config follows .double(), .float(), .to(dtype), so SeqKAN(**config) rebuilds it
        out = super()._apply(fn, *args, **kwargs)
        self.config["dtype"] = str(self.dtype).replace("torch.", "")
        return out

    @property
    def device(self) -> torch.device:
        return self.x_mean.device

    def as_tensor(self, x: Any, name: str = "x") -> torch.Tensor:
        """Validate sequences (n, time, input_size); convert to this model's dtype."""
        arr = _sequences(x, name, self.input_size)
        return torch.as_tensor(arr, dtype=self.dtype, device=self.device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The maps' input features (before standardisation) of raw sequences:
        ``x`` itself, or its :func:`scale_windows` features with ``window_scale``
        (validated when the model was built, not at every call)."""
        return _scaled(x, self.window_scale, self.dt)

    @torch.no_grad()
    def fit_normalization(self, X: Any) -> "SeqKAN":
        """Set the mean and std of each map input feature (see :meth:`features`)
        from sequences ``X`` (over all sequences and steps); a constant feature
        gets std 1.  Returns self."""
        arr = self.features(_sequences(X, "X", self.input_size)).reshape(-1, self.n_features)
        std = arr.std(0)
        std[~(std > 1e-12)] = 1.0
        self.x_mean.copy_(torch.as_tensor(arr.mean(0), dtype=self.dtype))
        self.x_std.copy_(torch.as_tensor(std, dtype=self.dtype))
        self.normalized.fill_(True)
        return self

    def normalization(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per map input feature: Phi_h and Phi_o read
        ``(features(x) - mean) / std``."""
        return self.x_mean.cpu().numpy().copy(), self.x_std.cpu().numpy().copy()

    def _squash(self, a: torch.Tensor) -> torch.Tensor:
        return torch.tanh(a) if self.squash == "tanh" else a

    # ------------------------------------------------------------ forward
    def _unroll(self, z: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, H) of normalised sequences z (B, T, F).
        The time loop is the only Python loop of the model."""
        kan = self.phi_h
        if len(kan.layers) == 1 and kan.width[1][1] == 0:
            return self._unroll_split(z)
        h = z.new_zeros(z.shape[0], self.hidden_size)
        states = []
        for z_t in z.unbind(1):      # unbind: a slice's backward zero-fills all of z
            h = self._squash(self.phi_h(torch.cat([z_t, h], 1)))
            states.append(h)
        return torch.stack(states, 1)

    def _unroll_split(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`_unroll` for a one-layer Phi_h of sum nodes.

        Such a layer is a sum over its inputs followed by an affine node map,
        ``Phi_h(x, h) = a (A(x) + Psi(h)) + c``
        (:meth:`~kandiscover.kan.layer.KANLayer.input_part`), so ``A(x_t)``
        is computed for every step in one call and the loop evaluates only
        the H hidden-state edges, their weights and knot factors made once.
        """
        B, T, F = z.shape
        kan, layer = self.phi_h, self.phi_h.layers[0]
        # the node map of a sum layer is affine: a * s + c
        a = kan.subnode_scale[0] * kan.node_scale[0]
        c = kan.subnode_bias[0] * kan.node_scale[0] + kan.node_bias[0]
        pre = (layer.input_part(0, F)(z.reshape(B * T, F)) * a + c).reshape(B, T, -1)
        psi = layer.input_part(F, self.hidden_size)
        h = z.new_zeros(B, self.hidden_size)
        states = []
        for pre_t in pre.unbind(1):  # unbind: a slice's backward zero-fills all of pre
            h = self._squash(pre_t + psi(h) * a)
            states.append(h)
        return torch.stack(states, 1)

    def _h_inputs(self, z: torch.Tensor, hs: torch.Tensor) -> torch.Tensor:
        """Phi_h's inputs (B, T, F + H): [x_t, h_{t-1}] with h_{-1} = 0."""
        h_prev = torch.cat([hs.new_zeros(hs.shape[0], 1, hs.shape[2]), hs[:, :-1]], 1)
        return torch.cat([z, h_prev], 2)

    def _o_inputs(self, z: torch.Tensor, hs: torch.Tensor) -> torch.Tensor:
        """Phi_o's inputs (B, T, F + H) = [x_{t-1}, h_t] with x_{-1} = 0, or [h_t]."""
        if self.variant == "wide":
            return hs
        x_prev = torch.cat([z.new_zeros(z.shape[0], 1, z.shape[2]), z[:, :-1]], 1)
        return torch.cat([x_prev, hs], 2)

    def _apply_o(self, o_in: torch.Tensor) -> torch.Tensor:
        B, T, n = o_in.shape
        return self.phi_o(o_in.reshape(B * T, n)).reshape(B, T, self.output_size)

    def _prepare(self, x: Any) -> torch.Tensor:
        """Validated, normalised tensor (B, T, F)."""
        if isinstance(x, torch.Tensor) and x.dtype == self.dtype and x.ndim == 3:
            if 0 in x.shape:
                raise InputError(f"x is empty (shape {tuple(x.shape)}); at least one "
                                 "sequence of at least one step is needed")
            if x.shape[2] != self.input_size:
                raise InputError(f"x has {x.shape[2]} features per step but the model's "
                                 f"input_size is {self.input_size}")
            if not bool(torch.isfinite(x).all()):
                raise InputError("x has non-finite (NaN or infinite) values")
        else:
            x = self.as_tensor(x)
        return self._standardize(x.to(self.device))

    def _standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (self.features(x) - self.x_mean) / self.x_std

    def forward(self, x: Any) -> torch.Tensor:
        """Logits of every step, (batch, time, output_size), for sequences
        ``x`` (batch, time, input_size) in raw units."""
        z = self._prepare(x)
        hs = self._unroll(z)
        return self._apply_o(self._o_inputs(z, hs))

    @torch.no_grad()
    def hidden_states(self, x: Any) -> torch.Tensor:
        """Hidden states h_t after reading x_t, (batch, time, hidden_size);
        for reading, so no gradient is tracked (``.numpy()`` works)."""
        return self._unroll(self._prepare(x))

    @torch.no_grad()
    def decision_function(self, x: Any, batch_size: int = 4096) -> np.ndarray:
        """The last step's logits, (batch, output_size), numpy."""
        batch_size = check_int(batch_size, "batch_size", 1)
        z = self._prepare(x)
        out = [self._last_logits(z[i:i + batch_size]) for i in range(0, len(z), batch_size)]
        return torch.cat(out).cpu().numpy()

    def predict_proba(self, x: Any, batch_size: int = 4096) -> np.ndarray:
        """Sigmoid of the last step's logits, (batch, output_size), numpy."""
        logits = self.decision_function(x, batch_size)
        return torch.sigmoid(torch.as_tensor(logits)).numpy()

    def _last_logits(self, z: torch.Tensor) -> torch.Tensor:
        hs = self._unroll(z)
        return self._apply_o(self._o_inputs(z, hs)[:, -1:])[:, 0]

    @torch.no_grad()
    def traced_inputs(self, x: Any, max_samples: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The 2-D input samples of Phi_h and Phi_o on sequences ``x``.

        Returns ``(Xh, Xo)``: every (sequence, step) row of ``[x_t, h_{t-1}]``
        and of ``[x_{t-1}, h_t]`` (``[h_t]`` for the wide variant), in
        normalised input units, ready for ``auto_symbolic(model.phi_h, Xh)``,
        ``model.phi_h.prune(Xh)`` or plotting.  ``max_samples`` keeps an evenly
        spread subsample of the rows.
        """
        z = self._prepare(x)
        rows = None
        if max_samples is not None:
            max_samples = check_int(max_samples, "max_samples", 1)
            B, T = z.shape[:2]
            if B * T > max_samples:
                # unroll only the sequences that hold the subsample's rows
                idx = torch.linspace(0, B * T - 1, max_samples).round().long()
                seqs, where = torch.unique(idx // T, return_inverse=True)
                z, rows = z[seqs], where * T + idx % T
        hs = self._unroll(z)
        xh = self._h_inputs(z, hs).reshape(-1, self.n_features + self.hidden_size)
        o_in = self._o_inputs(z, hs)
        xo = o_in.reshape(-1, o_in.shape[2])
        if rows is not None:
            xh, xo = xh[rows], xo[rows]
        return xh.cpu().numpy(), xo.cpu().numpy()

    # --------------------------------------------------------------- grids
    def _padded(self, x2: torch.Tensor, n_first: int) -> torch.Tensor:
        """Rows x2 plus two rows that widen the hidden-state columns (those
        from ``n_first`` on) to [-1, 1] (tanh) or by half their span (none)."""
        h = x2[:, n_first:]
        if self.squash == "tanh":
            lo, hi = torch.full_like(h[0], -1.0), torch.full_like(h[0], 1.0)
        else:
            span = (h.max(0).values - h.min(0).values).clamp_min(1e-2)
            lo, hi = h.min(0).values - span / 2, h.max(0).values + span / 2
        extra = x2[[0, min(1, len(x2) - 1)]]        # (a copy) also for a single row
        extra[0, n_first:], extra[1, n_first:] = lo, hi
        return torch.cat([x2, extra], 0)

    def _grid_samples(self, x: Any, max_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The traced inputs of Phi_h and Phi_o on sequences ``x`` as tensors,
        hidden columns padded: the samples their grids are placed on."""
        xh, xo = (torch.as_tensor(a, dtype=self.dtype, device=self.device)
                  for a in self.traced_inputs(x, max_samples=max_samples))
        n_first = 0 if self.variant == "wide" else self.n_features
        return self._padded(xh, self.n_features), self._padded(xo, n_first)

    @torch.no_grad()
    def update_grids(self, x: Any, max_samples: int = 20000) -> "SeqKAN":
        """Move both maps' grids to their traced inputs on sequences ``x``
        (an evenly spread subsample of at most ``max_samples`` rows), keeping
        every edge's function; hidden columns padded (see the module docstring)."""
        xh, xo = self._grid_samples(x, max_samples)
        self.phi_h.update_grid(xh)
        self.phi_o.update_grid(xo)
        return self

    @torch.no_grad()
    def refine_grids(self, new_grid: int, x: Any, max_samples: int = 20000) -> "SeqKAN":
        """Grid extension of both maps, in place: ``new_grid`` intervals per edge
        (:meth:`KAN.refine`: the knots follow the old ones' distribution, each
        new spline is the least-squares fit of the old one on its grid and on
        the maps' traced inputs on sequences ``x``, at most ``max_samples``
        rows).  From a grid of G intervals to a multiple of G the knots are
        nested and the functions are kept exactly.  Returns self."""
        new_grid = check_int(new_grid, "new_grid", 1)
        xh, xo = self._grid_samples(x, max_samples)
        self.phi_h = self.phi_h.refine(new_grid, xh)
        self.phi_o = self.phi_o.refine(new_grid, xo)
        self.config["grid"] = new_grid
        return self

    # ------------------------------------------------------------ training
    def fit(self, X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *, epochs: int = 20,
            batch_size: int = 64, lr: float = 1e-2, lamb: float = 0.0, lamb_l1: float = 1.0,
            lamb_entropy: float = 2.0, reg_samples: int = 256,
            lamb_smooth: float | Sequence[float] = 0.0, patience: int = 5,
            grid_update_epochs: Sequence[int] = (0, 1), grid_samples: int = 20000,
            grid_refine: Any = None, clip_grad: float | None = 5.0, lr_schedule: str = "constant",
            lr_patience: int = 2, seed: int | None = None,
            verbose: bool = False) -> History:
        """Train in place on sequences ``X`` (n, time, input_size) with 0/1
        labels ``Y`` (n, output_size) for the last step; return a History.

        Parameters
        ----------
        X_val, Y_val : validation data; the validation loss is computed after
            every epoch, training stops after ``patience`` epochs without
            improvement and the best weights are restored
        epochs, batch_size, lr : Adam settings (one epoch = one shuffled pass)
        lamb, lamb_l1, lamb_entropy : sparsity penalty of
            :mod:`kandiscover.sparsify.regularize` on Phi_h and Phi_o, computed on
            ``reg_samples`` traced (sequence, step) rows of each batch
        lamb_smooth : weight of the P-spline roughness penalty
            (:func:`~kandiscover.sparsify.regularize.spline_roughness`: squared
            second differences of the spline coefficients) on both maps, or a
            pair ``(Phi_h, Phi_o)``.  Smoother edges, notably in Phi_h, may carry
            better to inputs unlike the training data (see the pendulum study);
            the maps' coefficient scales differ, so a pair is usually better
            than one weight for both
        grid_update_epochs : epochs before which the grids move to the traced
            inputs of ``grid_samples`` training rows (empty: never)
        grid_refine : grid extension during training (coarse to fine, as in the
            KAN paper): ``{epoch: new_grid}`` or ``[(epoch, new_grid), ...]``;
            before each such epoch both maps get ``new_grid`` intervals
            (:meth:`refine_grids`, after any grid update of that epoch).  The
            early stopping then starts afresh: the weights kept at the end are
            the best of the epochs after the last extension, and the patience
            counts from it.  When the patience runs out before an extension,
            the best weights come back and the next extension is made at once
            (the coarse grid has stopped improving; the history's
            ``grid_refinements`` lists the epochs each grid started at).  The
            model's ``config["grid"]`` is the last grid.
        clip_grad : max gradient norm (None: no clipping)
        lr_schedule, lr_patience : learning-rate schedule
            (:data:`kandiscover.kan.seqtrain.LR_SCHEDULES`); ``"plateau"`` halves
            the rate after ``lr_patience`` epochs without a lower validation loss
        seed : seeds the shuffling and subsamples (default: the model's seed)
        verbose : tqdm progress bar over epochs (only on a terminal)

        The History's entries are per *epoch*: mean training BCE (without the
        penalty), validation BCE, mean weighted penalty (``lamb`` times the
        sparsity penalty plus the roughness terms), learning rate, the epochs of
        grid updates, ``best_step`` (best validation epoch) and ``stopped_early``.
        """
        epochs, batch_size, patience, lr, clip_grad = check_settings(
            epochs, batch_size, patience, lr, clip_grad)
        lr_schedule, lr_patience = check_schedule(lr_schedule, lr_patience,
                                                 X_val is not None or Y_val is not None)
        reg_samples = check_int(reg_samples, "reg_samples", 1)
        grid_samples = check_int(grid_samples, "grid_samples", 2)
        for name, v in (("lamb", lamb), ("lamb_l1", lamb_l1), ("lamb_entropy", lamb_entropy)):
            check_positive(v, name, allow_zero=True)
        smooth = _pair(lamb_smooth, "lamb_smooth")
        if not isinstance(grid_update_epochs, (tuple, list, set, frozenset, range,
                                               np.ndarray)):
            raise InputTypeError("grid_update_epochs must be a collection of epochs, e.g. "
                                 f"(0,) or [], got {grid_update_epochs!r}")
        grid_epochs = {check_int(e, "grid_update_epochs entry", 0) for e in grid_update_epochs}
        refinements = _refinements(grid_refine, self.config["grid"])
        late = sorted(e for e in refinements if e >= epochs)
        if late:
            raise InputError(f"grid_refine at epoch(s) {late} would never happen within the "
                             f"{epochs} epochs (the first is epoch 0)")
        gen = torch.Generator().manual_seed(self.seed if seed is None else
                                            check_int(seed, "seed", 0))
        Xa, Ya, Xva, Yva = sequence_data(X, Y, X_val, Y_val, n_features=self.input_size,
                                         n_labels=self.output_size)
        dev, dt = self.device, self.dtype
        if not bool(self.normalized):
            self.fit_normalization(Xa)
        Xt = torch.as_tensor(Xa, dtype=dt, device=dev)
        Zt = self._standardize(Xt)
        Yt = torch.as_tensor(Ya, dtype=dt, device=dev)
        Zv = Yv = None
        if Xva is not None:
            Zv = self._standardize(torch.as_tensor(Xva, dtype=dt, device=dev))
            Yv = torch.as_tensor(Yva, dtype=dt, device=dev)
        n, T = Zt.shape[:2]
        n_grid_seq = max(1, min(n, math.ceil(grid_samples / T)))
        grid_updates: list[int] = []
        refined: list[tuple[int, int]] = []      # (first epoch on it, grid)

        def before_epoch(epoch: int) -> bool:
            if epoch not in grid_epochs and epoch not in refinements:
                return False
            sel = torch.randperm(n, generator=gen)[:n_grid_seq].to(dev)
            if epoch in grid_epochs:
                self.update_grids(Xt[sel], max_samples=grid_samples)
                grid_updates.append(epoch)
            if epoch in refinements:
                refine(epoch, refinements.pop(epoch), sel)
            return True                     # the knots moved: a fresh optimizer

        def refine(epoch: int, grid: int, sel: torch.Tensor) -> None:
            self.refine_grids(grid, Xt[sel], max_samples=grid_samples)
            refined.append((epoch, grid))

        def on_stall(epoch: int) -> bool:
            """The patience ran out on a grid with an extension still to come:
            make it now, from the best weights (train_last_step restored them)."""
            if not refinements:
                return False
            sel = torch.randperm(n, generator=gen)[:n_grid_seq].to(dev)
            refine(epoch + 1, refinements.pop(min(refinements)), sel)
            return True

        def penalty(kan: KAN, rows: torch.Tensor) -> torch.Tensor:
            if len(rows) > reg_samples:
                rows = rows[torch.randperm(len(rows), generator=gen)[:reg_samples].to(dev)]
            nodes = kan.trace(rows)[0][:-1]
            return regularization(kan, nodes, lamb_l1, lamb_entropy)

        def step(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            """Last-step logits and the weighted penalty (None without one); the
            sparsity penalty is computed on the same unroll."""
            hs = self._unroll(z)
            o_in = self._o_inputs(z, hs)
            logits = self._apply_o(o_in[:, -1:])[:, 0]
            pen = None
            if lamb > 0:
                rows_h = self._h_inputs(z, hs).reshape(-1, self.phi_h.n_inputs)
                rows_o = o_in.reshape(-1, self.phi_o.n_inputs)
                pen = lamb * (penalty(self.phi_h, rows_h) + penalty(self.phi_o, rows_o))
            for weight, kan in zip(smooth, (self.phi_h, self.phi_o)):
                if weight > 0:
                    pen = weight * spline_roughness(kan) + (0.0 if pen is None else pen)
            return logits, pen

        was_training = self.training
        try:
            h = train_last_step(self, Zt, Yt, Zv, Yv, generator=gen, epochs=epochs,
                                batch_size=batch_size, lr=lr, patience=patience,
                                clip_grad=clip_grad, logits=self._last_logits, step=step,
                                penalty_weight=1.0, before_epoch=before_epoch,
                                on_stall=on_stall,
                                lr_schedule=lr_schedule, lr_patience=lr_patience,
                                verbose=verbose, desc="seqkan fit")
        finally:
            self.train(was_training)
        hist = History(train_loss=h["train_loss"], val_loss=h["val_loss"], reg=h["penalty"],
                       lr=h["lr"], grid_updates=grid_updates, best_step=h["best_epoch"],
                       stopped_early=h["stopped_early"], grid_refinements=refined)
        # samples for prune()/attribution()/auto_symbolic() of the maps without X
        sel = torch.randperm(n, generator=gen)[:max(1, min(n, math.ceil(1000 / T)))].to(dev)
        xh, xo = self.traced_inputs(Xt[sel], max_samples=1000)
        self.phi_h.fit_sample_ = torch.as_tensor(xh, dtype=dt, device=dev)
        self.phi_o.fit_sample_ = torch.as_tensor(xo, dtype=dt, device=dev)
        return hist

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"output_size={self.output_size}, variant={self.variant!r}, "
                f"squash={self.squash!r}" + (f", window_scale={self.window_scale!r}"
                                              if self.window_scale else ""))

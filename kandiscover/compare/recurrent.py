r"""Recurrent sequence-classification baselines: RNN, LSTM and TKAN.

Baselines for the sequence studies (the pendulum): each model reads a batch of
sequences ``X`` (n, time, features), standardised per feature, and gives the
logits of ``output_size`` binary labels from its state after the *last* step.
All three share one estimator API (:class:`RNNClassifier`,
:class:`LSTMClassifier`, :class:`TKANClassifier`)::

    model = LSTMClassifier(input_size=2, output_size=2, hidden_size=16, seed=0)
    model.fit(X, Y, X_val, Y_val, epochs=20)       # Y: (n, output_size) 0/1
    p = model.predict_proba(X_test)                # (n, output_size)

and one training loop, :func:`train_sequence_classifier` (defined in
:mod:`kandiscover.kan.seqtrain`, where :class:`~kandiscover.kan.seqkan.SeqKAN`
trains too, and re-exported here): Adam on the binary cross-entropy of the
last step's logits,

.. math::
    \mathcal{L} = -\frac{1}{n K}\sum_{s, k} \bigl[y_{sk}\log\sigma(a_{sk})
                  + (1 - y_{sk})\log(1 - \sigma(a_{sk}))\bigr]

(plus an optional penalty), minibatches shuffled by a ``torch.Generator`` of
its own, gradient-norm clipping, the validation loss after every epoch and
early stopping that restores the best weights.

Randomness: every parameter is drawn from a ``torch.Generator`` seeded from
the model's ``seed`` (the torch modules are built on the ``meta`` device, so
building them draws nothing from the global generator), the shuffling from a
second generator seeded from ``seed``.  The global RNG state is never read or
changed: same seed, same machine, same thread count -> identical predictions.

Threads: the time loops run many small tensor operations, for which torch's
intra-op threads cost more than they give on a small, busy machine (on the
project's 2-core machine the test-sized fits ran ~10x faster after
``torch.set_num_threads(1)``).  That setting is global, so it is left to the
caller.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ..errors import InputError
from ..kan.layer import KANLayer
from ..kan.seqtrain import _sequences, sequence_data, train_sequence_classifier

__all__ = ["train_sequence_classifier", "RNNClassifier", "LSTMClassifier",
           "TKANClassifier"]

_CANDIDATE = ("sigmoid", "tanh")


# --------------------------------------------------------------------- helpers
def _uniform_(t: torch.Tensor, bound: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=gen)


# ------------------------------------------------------------ torch modules
class _TorchRecurrent(nn.Module):
    """nn.RNN (tanh) or nn.LSTM, one layer, and a linear head on h_T.

    Parameters are drawn from ``generator`` with PyTorch's default law,
    ``U(-1/sqrt(H), 1/sqrt(H))`` (head: ``U(-1/sqrt(H), 1/sqrt(H))`` too).
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, output_size: int,
                 generator: torch.Generator):
        super().__init__()
        # torch's modules take only Python ints (numpy integers pass check_int)
        input_size, hidden_size, output_size = int(input_size), int(hidden_size), int(output_size)
        cls = nn.LSTM if kind == "lstm" else nn.RNN
        extra = {} if kind == "lstm" else {"nonlinearity": "tanh"}
        # built on "meta" so that no global random draw happens, then drawn from generator
        self.rnn = cls(input_size, hidden_size, batch_first=True, device="meta",
                       **extra).to_empty(device="cpu")
        self.head = nn.Linear(hidden_size, output_size, device="meta").to_empty(device="cpu")
        bound = 1.0 / math.sqrt(hidden_size)
        for p in (*self.rnn.parameters(), *self.head.parameters()):
            _uniform_(p, bound, generator)
        if kind == "lstm":
            self.rnn.flatten_parameters()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(z)
        h = state[0] if isinstance(state, tuple) else state     # (1, B, H)
        return self.head(h[-1])


class _TKANModule(nn.Module):
    r"""The TKAN recurrence (equations in :class:`TKANClassifier`) and a linear head.

    The ``L`` KAN sub-layers live in one :class:`~kandiscover.kan.layer.KANLayer`
    ``kan`` with ``L * d_in`` inputs and ``L * d_out`` outputs whose edge mask
    is block-diagonal (input block ``l`` feeds output block ``l`` only), so one
    B-spline basis and one matmul per step serve every sub-layer;
    ``W_{l,h}`` is likewise one block-diagonal matrix ``sub_h * sub_h_mask``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 n_sub: int, d_in: int, d_out: int, grid: int, k: int,
                 grid_range: tuple[float, float], candidate: str,
                 generator: torch.Generator):
        super().__init__()
        F, H, L = input_size, hidden_size, n_sub
        self.hidden_size, self.n_sub, self.d_in, self.d_out = H, L, d_in, d_out
        self.candidate = candidate
        g = generator

        def param(*shape: int, bound: float) -> nn.Parameter:
            t = torch.empty(*shape)
            _uniform_(t, bound, g)
            return nn.Parameter(t)

        # LSTM-like gates i, f, c~ (rows in that order): W x_t + U h_{t-1} + b
        self.gate_x = param(3 * H, F, bound=1 / math.sqrt(H))
        self.gate_h = param(3 * H, H, bound=1 / math.sqrt(H))
        b = torch.empty(3 * H)
        _uniform_(b, 1 / math.sqrt(H), g)
        b[H:2 * H] += 1.0                      # forget bias starts at +1
        self.gate_b = nn.Parameter(b)
        # RKAN sub-layers: s_l = W_{l,x} x_t + W_{l,h} h~_{l,t-1}
        self.sub_x = param(L * d_in, F, bound=1 / math.sqrt(F))
        self.sub_h = param(L * d_out, L * d_in, bound=1 / math.sqrt(d_out))
        blocks = torch.block_diag(*[torch.ones(d_in, d_out)] * L)      # (L d_in, L d_out)
        self.register_buffer("sub_h_mask", blocks.T.contiguous())    # (L d_out, L d_in)
        with torch.no_grad():
            self.sub_h.mul_(self.sub_h_mask)        # off-block entries stay 0 (no gradient)
        self.kan = KANLayer(L * d_in, L * d_out, grid=grid, k=k, grid_range=grid_range,
                            generator=g)
        with torch.no_grad():
            self.kan.mask.copy_(blocks)
            # each sub-layer starts as a standalone d_in -> d_out layer would
            self.kan.scale_base.mul_(math.sqrt(L))
            self.kan.scale_sp.mul_(math.sqrt(L))
        # sub-state memory: h~_l = w_{l,z} * o~_l + w_{l,h} * h~_{l,t-1} (diagonal)
        self.mem_z = param(L * d_out, bound=0.5)
        self.mem_h = param(L * d_out, bound=0.5)
        # output gate from the concatenated sub-layer outputs, then the head
        self.out_w = param(H, L * d_out, bound=1 / math.sqrt(L * d_out))
        self.out_b = param(H, bound=1 / math.sqrt(L * d_out))
        self.head = nn.Linear(H, output_size, device="meta").to_empty(device="cpu")
        for p in self.head.parameters():
            _uniform_(p, 1 / math.sqrt(H), g)

    def states(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Final (h_T, c_T, h~_T) for normalised sequences z (B, T, F)."""
        B, H = z.shape[0], self.hidden_size
        gx = torch.nn.functional.linear(z, self.gate_x, self.gate_b)   # (B, T, 3H)
        sx = torch.nn.functional.linear(z, self.sub_x)                 # (B, T, L d_in)
        sub_h = self.sub_h * self.sub_h_mask                           # (L d_out, L d_in)
        gate_hT = self.gate_h.T
        out_wT = self.out_w.T
        cand = torch.sigmoid if self.candidate == "sigmoid" else torch.tanh
        h = z.new_zeros(B, H)
        c = z.new_zeros(B, H)
        m = z.new_zeros(B, self.n_sub * self.d_out)
        kan = self.kan.input_part(0, self.kan.n_in)   # weights and knot factors made once
        # unbind/chunk rather than slicing: a slice's backward zero-fills a tensor
        # of the full size at every step (measured: a third of the time)
        for gx_t, sx_t in zip(gx.unbind(1), sx.unbind(1)):
            i, f, g = torch.addmm(gx_t, h, gate_hT).chunk(3, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * cand(g)
            o_sub = kan(torch.addmm(sx_t, m, sub_h))                   # (B, L d_out)
            m = self.mem_z * o_sub + self.mem_h * m
            o = torch.sigmoid(torch.addmm(self.out_b, o_sub, out_wT))
            h = o * torch.tanh(c)
        return h, c, m

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.states(z)[0])


# ---------------------------------------------------------------- estimators
class _RecurrentClassifier:
    """Shared estimator API; subclasses set ``_check_extra`` and ``_build``."""

    def __init__(self, input_size: int, output_size: int = 1, hidden_size: int = 16,
                 seed: int = 0):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size = hidden_size
        self.seed = seed

    # sklearn-style parameter access (so clone() and grid searches work)
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as a dict."""
        import inspect
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> "_RecurrentClassifier":
        """Set constructor parameters (takes effect at the next :meth:`fit`)."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise InputError(f"{type(self).__name__} has no parameter {name!r}; "
                                 f"valid ones: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---------------------------------------------------------- subclass hooks
    def _check_extra(self) -> None:
        """Validate the subclass's own parameters."""

    def _build(self, generator: torch.Generator) -> nn.Module:
        raise NotImplementedError

    def _check_params(self) -> None:
        check_int(self.input_size, "input_size", 1)
        check_int(self.output_size, "output_size", 1)
        check_int(self.hidden_size, "hidden_size", 1)
        check_int(self.seed, "seed", 0)
        self._check_extra()

    # ------------------------------------------------------------------- fit
    def fit(self, X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *,
            epochs: int = 20, batch_size: int = 256, lr: float = 1e-2, patience: int = 4,
            lr_schedule: str = "constant", lr_patience: int = 2,
            verbose: bool = False) -> "_RecurrentClassifier":
        """Train a fresh network on sequences ``X`` with last-step labels ``Y``.

        Parameters
        ----------
        X : (n, time, input_size) float sequences (NaN and inf refused)
        Y : (n, output_size) 0/1 labels (bool accepted; (n,) when output_size is 1)
        X_val, Y_val : validation data for early stopping (see
            :func:`train_sequence_classifier`); the best epoch's weights are kept
        epochs, batch_size, lr, patience : training settings
        lr_schedule, lr_patience : learning-rate schedule
            (:data:`kandiscover.kan.seqtrain.LR_SCHEDULES`)
        verbose : progress bar over epochs (only on a terminal)

        Returns
        -------
        self, with ``module_`` (the trained torch module, which reads
        normalised sequences), ``x_mean_`` and ``x_std_`` (per-feature mean
        and standard deviation over every sequence and step of X; a constant
        feature gets std 1), ``history_`` (the dict of
        :func:`train_sequence_classifier`) and ``n_features_in_``.
        The caller's arrays are not modified.
        """
        self._check_params()
        Xa, Ya, Xva, Yva = sequence_data(X, Y, X_val, Y_val, n_features=self.input_size,
                                         n_labels=self.output_size)
        flat = Xa.reshape(-1, Xa.shape[2])
        mean, std = flat.mean(0), flat.std(0)
        std[~(std > 1e-12)] = 1.0
        Z = ((Xa - mean) / std).astype(np.float32)
        Zv = None if Xva is None else ((Xva - mean) / std).astype(np.float32)
        module = self._build(torch.Generator().manual_seed(self.seed))
        self.history_ = train_sequence_classifier(
            module, Z, Ya, Zv, Yva, epochs=epochs, batch_size=batch_size, lr=lr,
            patience=patience, seed=self.seed, lr_schedule=lr_schedule,
            lr_patience=lr_patience, verbose=verbose)
        self.module_ = module
        self.x_mean_, self.x_std_ = mean, std
        self.n_features_in_ = Xa.shape[2]
        return self

    # --------------------------------------------------------------- predict
    def decision_function(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Last-step logits, (n, output_size), for sequences X (n, time, input_size)."""
        if not hasattr(self, "module_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call "
                                 "fit(X, Y) first")
        batch_size = check_int(batch_size, "batch_size", 1)
        Xa = _sequences(X, "X", self.n_features_in_)     # the fitted network's, not a set_params
        Z = torch.as_tensor(((Xa - self.x_mean_) / self.x_std_).astype(np.float32))
        self.module_.eval()
        with torch.no_grad():
            out = [self.module_(Z[i:i + batch_size]) for i in range(0, len(Z), batch_size)]
        return torch.cat(out).double().numpy()

    def predict_proba(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Probability of each label at the last step, (n, output_size)."""
        logits = self.decision_function(X, batch_size=batch_size)
        return 1.0 / (1.0 + np.exp(-logits))


class RNNClassifier(_RecurrentClassifier):
    r"""Elman RNN baseline: ``torch.nn.RNN`` (tanh, one layer) and a linear head.

    .. math::
        h_t = \tanh(W_{ih} z_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \quad h_{-1} = 0,
        \qquad \text{logits} = W h_{T-1} + b

    with ``z`` the standardised input.  Parameters start from PyTorch's law
    ``U(-1/sqrt(H), 1/sqrt(H))``, drawn from a generator seeded by ``seed``.

    Parameters
    ----------
    input_size : features per time step
    output_size : number of binary labels
    hidden_size : dimension H of the hidden state
    seed : seeds the initial parameters and the shuffling
    """

    def _build(self, generator: torch.Generator) -> nn.Module:
        return _TorchRecurrent("rnn", self.input_size, self.hidden_size, self.output_size,
                               generator)


class LSTMClassifier(_RecurrentClassifier):
    r"""LSTM baseline: ``torch.nn.LSTM`` (one layer) and a linear head on h_T.

    .. math::
        i, f, o = \sigma(W_{i,f,o} z_t + U_{i,f,o} h_{t-1} + b_{i,f,o}), \quad
        g = \tanh(W_g z_t + U_g h_{t-1} + b_g), \\
        c_t = f c_{t-1} + i g, \quad h_t = o \tanh(c_t), \qquad
        \text{logits} = W h_{T-1} + b

    Parameters start from PyTorch's law ``U(-1/sqrt(H), 1/sqrt(H))``, drawn
    from a generator seeded by ``seed``.  Parameters as for :class:`RNNClassifier`.
    """

    def _build(self, generator: torch.Generator) -> nn.Module:
        return _TorchRecurrent("lstm", self.input_size, self.hidden_size, self.output_size,
                               generator)


class TKANClassifier(_RecurrentClassifier):
    r"""TKAN baseline (Genet & Inzirillo 2024, arXiv 2405.07344), in torch.

    **Implementation choice: written here in torch, not a wrapper of the
    ``tkan`` package.**  Measured on this project's 2-core CPU machine
    (torch 2.13.0 CPU, one thread, pendulum training windows (33300, 50, 2),
    hidden size 16, two KAN sub-layers, batch 256): ``pip install tkan``
    (0.4.3, with keras 3.15.1, ``KERAS_BACKEND=torch``) installs and fits
    without error, but one epoch costs ~30 s of CPU (~45 s wall on the busy
    machine) against ~8 s of CPU (~11 s wall) for this module, i.e. 3.5-4x
    slower.  It also would not meet the project's conventions: seeding goes
    through ``keras.utils.set_random_seed`` (global RNG state) and the cell's
    default seed is ``int(time.time())``; importing keras writes
    ``~/.keras/keras.json``; its torch/jax code path uses ``tanh`` for the cell
    candidate while its TensorFlow path and the paper use a sigmoid; and its
    licence (CC BY-NC-SA 4.0) does not fit this MIT project.  The equations
    below are from the paper; no code was taken from the package.

    Equations
    ---------
    An LSTM-like cell whose output gate is computed by ``L`` recurrent KAN
    (RKAN) sub-layers, each with its own sub-state
    :math:`\tilde h_{l,t} \in \mathbb{R}^{d_{out}}` (all states start at 0)::

        s_{l,t}   = W_{l,x} z_t + W_{l,h} h~_{l,t-1}                (d_in values)
        o~_{l,t}  = Phi_l(s_{l,t})                                  (KAN layer d_in -> d_out)
        h~_{l,t}  = w_{l,z} * o~_{l,t} + w_{l,h} * h~_{l,t-1}       (elementwise)

        f_t  = sigma(W_f z_t + U_f h_{t-1} + b_f)
        i_t  = sigma(W_i z_t + U_i h_{t-1} + b_i)
        c~_t = sigma(W_c z_t + U_c h_{t-1} + b_c)     (tanh with candidate="tanh")
        c_t  = f_t * c_{t-1} + i_t * c~_t
        r_t  = [o~_{1,t}, ..., o~_{L,t}]
        o_t  = sigma(W_o r_t + b_o)
        h_t  = o_t * tanh(c_t)                          logits = W h_{T-1} + b

    ``Phi_l`` are B-spline KAN layers (SiLU residual + spline on every edge,
    :class:`kandiscover.kan.layer.KANLayer`) on a fixed uniform grid over
    ``grid_range``; the KAN input ``s`` mixes standardised inputs, so most of
    it falls inside the default (-2, 2).  The paper writes ``c~_t`` with a
    sigmoid (so ``c_t >= 0``); ``candidate="tanh"`` gives the classical LSTM
    candidate instead.  The memory weights ``W_hh``, ``W_hz`` are diagonal
    (one number per sub-state component), as in the authors' code.  The
    forget-gate bias starts at +1.

    Parameters
    ----------
    input_size, output_size, hidden_size, seed : as for :class:`RNNClassifier`
    n_sub_layers : number L of RKAN sub-layers
    sub_input_dim, sub_output_dim : d_in and d_out of each sub-layer
        (default: input_size, as in the ``tkan`` package)
    grid, k : spline grid intervals and order of the sub-layers
    grid_range : interval of the uniform spline grid
    candidate : ``"sigmoid"`` (paper) or ``"tanh"`` for the cell candidate c~
    """

    def __init__(self, input_size: int, output_size: int = 1, hidden_size: int = 16,
                 seed: int = 0, n_sub_layers: int = 2, sub_input_dim: int | None = None,
                 sub_output_dim: int | None = None, grid: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-2.0, 2.0),
                 candidate: str = "sigmoid"):
        super().__init__(input_size, output_size, hidden_size, seed)
        self.n_sub_layers = n_sub_layers
        self.sub_input_dim = sub_input_dim
        self.sub_output_dim = sub_output_dim
        self.grid = grid
        self.k = k
        self.grid_range = grid_range
        self.candidate = candidate

    def _check_extra(self) -> None:
        check_int(self.n_sub_layers, "n_sub_layers", 1)
        for name in ("sub_input_dim", "sub_output_dim"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, 1)
        check_int(self.grid, "grid", 1)
        check_int(self.k, "k", 1)
        try:
            lo, hi = (float(v) for v in self.grid_range)
        except (TypeError, ValueError):
            raise InputError(f"grid_range must be two numbers (low, high), got "
                             f"{self.grid_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"grid_range must be finite with low < high, got "
                             f"{self.grid_range!r}")
        if self.candidate not in _CANDIDATE:
            raise InputError(f"candidate must be 'sigmoid' or 'tanh', got {self.candidate!r}")

    def _build(self, generator: torch.Generator) -> nn.Module:
        d_in = self.input_size if self.sub_input_dim is None else self.sub_input_dim
        d_out = self.input_size if self.sub_output_dim is None else self.sub_output_dim
        lo, hi = (float(v) for v in self.grid_range)
        return _TKANModule(self.input_size, self.hidden_size, self.output_size,
                           self.n_sub_layers, d_in, d_out, self.grid, self.k, (lo, hi),
                           self.candidate, generator)

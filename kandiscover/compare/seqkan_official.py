r"""The seqKAN authors' own implementation, wrapped as a baseline.

``seqkan`` 0.8.1 (PyPI; Boura & Konstantopoulos, the paper behind
:class:`kandiscover.kan.seqkan.SeqKAN`) is an optional dependency: install it
with ``pip install 'kandiscover[bench]'``.  Nothing in kandiscover imports it
except :meth:`OfficialSeqKAN.fit`; :func:`available` says whether it can.

What the package is, read from its source (``seqkan/model.py``,
``seqkan/train.py``, ``seqkan/kan/``):

* ``seqKAN(input_size, hidden_size, output_size, kan_params, device)``: two
  one-layer pykan ``KAN`` objects, ``KANlayer`` of width
  ``[input_size + hidden_size, hidden_size]`` and ``KANoutput`` of width
  ``[input_size + hidden_size, output_size]``; per step
  ``h_t = KANlayer([x_t, h_{t-1}])`` (no squashing) and
  ``y_t = KANoutput([x_{t-1}, h_t])`` with ``h_{-1} = x_{-1} = 0``; forward
  returns the last step's ``y``.  ``seqKAN_wide`` reads ``[h_t]`` only and
  freezes the node scales/biases (``sp/sb/affine_trainable=False``).
* ``kan_params = {'hidden': {'grid', 'grid_range', 'k'}, 'output': {...}}``
  has no defaults; the vendored pykan 0.2.8 defaults are ``grid_range=[-1, 1]``
  and ``k=3``, which is what we use (with ``grid`` from the constructor).
* The vendored pykan is 0.2.8 with one change in ``KANLayer.forward``: the
  SiLU residual and the ``scale_sp`` factor are commented out, so every edge
  is a *pure* B-spline, zero outside its grid (plus ``k`` extension
  intervals).  Inputs are therefore scaled to ``grid_range`` here: per
  feature, the training minimum and maximum map to -1 and 1.
* Every ``KAN`` is built with ``seed=42`` hard-coded, which reseeds the
  global torch, numpy and ``random`` generators, and with pykan's default
  ``auto_save=True``, which writes a ``./model`` checkpoint folder and prints
  to stdout.  So the initial weights never depend on our ``seed`` (it only
  drives the shuffling and ``max_windows``), the models are built and
  trained inside a temporary working directory with the global generators
  saved and restored, and the package's prints are swallowed unless
  ``verbose``.
* The initial spline coefficients come from ``torch.linalg.lstsq`` on the
  random noise, and on CPU that result differs in its last bits from one
  call to the next.  To make the same ``seed`` give the same model, the
  model is built in float64 (the draws of seed 42 in double precision) and
  cast to float32, which rounds the noise away; training is in float32.
* ``seqkan.train.train`` takes the optimizer class, ``lr`` and loss class
  from a ``train_params`` dict, without defaults; it shuffles with a
  ``DataLoader``, steps ``optimizer(model.parameters(), lr=lr)`` on
  ``criterion(outputs, targets)`` with no gradient clipping, and stops early
  on the validation loss.  The settings its authors actually run are in the
  shipped ``testcases/two_layers.py``: ``k=3``, ``grid=11``, ``grid_range``
  = the data range, SGD ``lr=0.2`` (with ``Adam lr=0.05`` next to it,
  commented out), MSE loss, batch 16.  Here: Adam, ``lr=0.05`` by default
  (``optimizer="sgd"`` gives SGD with ``lr=0.2``), and, for binary labels, the
  binary cross-entropy of the last step's outputs taken as logits, like
  :meth:`SeqKAN.fit <kandiscover.kan.seqkan.SeqKAN.fit>`.  The loop is ours,
  :func:`~kandiscover.kan.seqtrain.train_last_step` (SeqKAN's, run with the
  same steps as ``train``: no gradient clipping): ``train`` writes ``model.pth`` and
  ``losses.png``, prints every epoch, needs a validation set and returns
  the *last* model rather than the best one (it keeps a reference, not a
  copy); here the best weights are restored in memory.

The wrapped model is slow: pykan's default mode computes a symbolic branch
and saves activations on every forward call, for every one of the time
steps (see ``benchmarks/seqkan_speed.py``); ``max_windows`` trains on a
subsample.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ..errors import InputError
from ..kan.seqtrain import _sequences, check_settings, sequence_data, train_last_step
from ..kan.train import History

__all__ = ["OfficialSeqKAN", "available"]

SEQKAN_VERSION = "0.8.1"
GRID_RANGE = (-1.0, 1.0)
_INSTALL_HINT = ("install it with: pip install 'kandiscover[bench]' "
                 f"(or pip install seqkan=={SEQKAN_VERSION})")
_VARIANTS = ("standard", "wide")
_OPTIMIZERS = {"adam": (torch.optim.Adam, 0.05), "sgd": (torch.optim.SGD, 0.2)}


def _import_seqkan() -> tuple[Any, str]:
    """(module or None, reason).  Lazy: the only place seqkan is imported."""
    try:
        import seqkan  # noqa: PLC0415
    except Exception as exc:  # ImportError, or a broken install of its dependencies
        return None, (f"the seqkan package is not importable ({type(exc).__name__}: "
                      f"{exc}); {_INSTALL_HINT}")
    try:
        from importlib.metadata import version
        ver = version("seqkan")
    except Exception:
        ver = "unknown version"
    note = "" if ver == SEQKAN_VERSION else f" (tested with {SEQKAN_VERSION})"
    return seqkan, f"seqkan {ver} is installed{note}"


def available() -> tuple[bool, str]:
    """Whether the official seqkan package can be used: ``(ok, reason)``."""
    module, reason = _import_seqkan()
    return module is not None, reason


def _require_seqkan() -> Any:
    module, reason = _import_seqkan()
    if module is None:
        raise InputError(f"OfficialSeqKAN needs the optional seqkan package: {reason}")
    return module


@contextlib.contextmanager
def _isolated(verbose: bool) -> Iterator[None]:
    """Run the body in a fresh temporary working directory (the package writes
    ``./model``), with the global torch, numpy and ``random`` generator states
    restored afterwards and the package's prints swallowed unless ``verbose``.
    The working directory is process-wide: do not fit from several threads."""
    old_cwd = os.getcwd()
    py_state, np_state = random.getstate(), np.random.get_state()
    sink = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with tempfile.TemporaryDirectory(prefix="kd_seqkan_") as tmp:
        try:
            os.chdir(tmp)
            with torch.random.fork_rng(devices=[]), sink:
                yield
        finally:
            os.chdir(old_cwd)
            random.setstate(py_state)
            np.random.set_state(np_state)


class OfficialSeqKAN:
    """The seqkan package's ``seqKAN`` / ``seqKAN_wide`` as a classifier of
    sequences (see the module docstring for what is taken from the package).

    Parameters
    ----------
    input_size : features per time step
    output_size : number of binary outputs
    hidden_size : dimension of the hidden state
    variant : ``"standard"`` (``seqKAN``) or ``"wide"`` (``seqKAN_wide``)
    grid, k : spline intervals and order of both KANs (grid range [-1, 1])
    seed : shuffling and ``max_windows`` subsampling; the package always
        initialises its weights with its own fixed seed (42)

    Attributes (after :meth:`fit`)
    -------------------------------
    model_ : the package's ``nn.Module``
    history_ : :class:`~kandiscover.kan.train.History` per epoch (BCE)
    x_center_, x_half_range_ : per-feature scaling, ``z = (x - center) / half_range``
    n_windows_ : number of training sequences actually used
    """

    available = staticmethod(available)

    def __init__(self, input_size: int, output_size: int = 1, hidden_size: int = 1,
                 variant: str = "standard", grid: int = 5, k: int = 3, seed: int = 0):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size = hidden_size
        self.variant = variant
        self.grid = grid
        self.k = k
        self.seed = seed

    # ------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        check_int(self.input_size, "input_size", 1)
        check_int(self.output_size, "output_size", 1)
        check_int(self.hidden_size, "hidden_size", 1)
        check_int(self.grid, "grid", 1)
        check_int(self.k, "k", 1)
        check_int(self.seed, "seed", 0)
        if self.variant not in _VARIANTS:
            raise InputError(f"variant must be 'standard' or 'wide', got {self.variant!r}")

    def _build(self, seqkan: Any) -> nn.Module:
        spec = {"grid": int(self.grid), "grid_range": list(GRID_RANGE), "k": int(self.k)}
        cls = seqkan.seqKAN if self.variant == "standard" else seqkan.seqKAN_wide
        # Built in float64, then cast: the package initialises the spline
        # coefficients with torch.linalg.lstsq, whose result changes in the last
        # bits from call to call on CPU; the float32 cast removes that noise.
        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            model = cls(int(self.input_size), int(self.hidden_size), int(self.output_size),
                        {"hidden": dict(spec), "output": dict(spec)}, "cpu")
        finally:
            torch.set_default_dtype(old)
        return model.float()

    def _scale(self, arr: np.ndarray) -> torch.Tensor:
        z = (arr - self.x_center_) / self.x_half_range_
        return torch.as_tensor(z, dtype=torch.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("this OfficialSeqKAN is not fitted yet; call fit(X, Y) first")

    # ------------------------------------------------------------ training
    def fit(self, X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *, epochs: int = 20,
            batch_size: int = 64, lr: float | None = None, optimizer: str = "adam",
            patience: int = 5, max_windows: int | None = None,
            verbose: bool = False) -> "OfficialSeqKAN":
        """Train on sequences ``X`` (n, time, input_size) with 0/1 labels ``Y``
        (n, output_size) for the last step; returns self.

        Parameters
        ----------
        X_val, Y_val : validation data; after every epoch its BCE is computed,
            training stops after ``patience`` epochs without improvement and
            the best weights are restored
        epochs, batch_size : one epoch is one shuffled pass over the windows
        lr : learning rate (default 0.05 for Adam, 0.2 for SGD)
        optimizer : ``"adam"`` or ``"sgd"``
        max_windows : train on this many windows, drawn without replacement
            with ``seed`` (about 0.2-0.7 s per batch of 64 fifty-step windows
            on one CPU core)
        verbose : the package's prints and a tqdm bar over epochs (on a terminal)
        """
        seqkan = _require_seqkan()
        self._check_params()
        if optimizer not in _OPTIMIZERS:
            raise InputError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        opt_cls, default_lr = _OPTIMIZERS[optimizer]
        epochs, batch_size, patience, lr, _ = check_settings(
            epochs, batch_size, patience, default_lr if lr is None else lr, None)
        Xa, Ya, Xv, Yva = sequence_data(X, Y, X_val, Y_val, n_features=self.input_size,
                                        n_labels=self.output_size)
        rng = np.random.default_rng(self.seed)
        if max_windows is not None:
            max_windows = check_int(max_windows, "max_windows", 1)
            if max_windows < len(Xa):
                keep = np.sort(rng.permutation(len(Xa))[:max_windows])
                Xa, Ya = Xa[keep], Ya[keep]
        lo = Xa.min(axis=(0, 1))
        hi = Xa.max(axis=(0, 1))
        half = (hi - lo) / 2
        half[~(half > 1e-12)] = 1.0
        self.x_center_, self.x_half_range_ = (lo + hi) / 2, half
        Zt, Yt = self._scale(Xa), torch.as_tensor(Ya, dtype=torch.float32)
        Zv = Yv = None
        if Xv is not None:
            Zv, Yv = self._scale(Xv), torch.as_tensor(Yva, dtype=torch.float32)
        with _isolated(verbose):
            model = self._build(seqkan)
            # the package's train() has no gradient clipping
            h = train_last_step(model, Zt, Yt, Zv, Yv,
                                generator=torch.Generator().manual_seed(int(self.seed)),
                                epochs=epochs, batch_size=batch_size, lr=lr,
                                patience=patience, clip_grad=None, optimizer=opt_cls,
                                val_batch_size=1024, verbose=verbose,
                                desc="official seqkan fit")
        hist = History(train_loss=h["train_loss"], val_loss=h["val_loss"], lr=h["lr"],
                       best_step=h["best_epoch"], stopped_early=h["stopped_early"])
        self.model_, self.history_, self.n_windows_ = model, hist, len(Zt)
        return self

    # ------------------------------------------------------------ prediction
    def decision_function(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Last-step outputs (logits), (n, output_size) float64."""
        self._check_fitted()
        batch_size = check_int(batch_size, "batch_size", 1)
        Z = self._scale(_sequences(X, "X", self.input_size))
        with torch.no_grad():
            out = [self.model_(Z[i:i + batch_size]) for i in range(0, len(Z), batch_size)]
        return torch.cat(out).double().numpy().reshape(len(Z), self.output_size)

    def predict_proba(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Sigmoid of the last step's outputs, (n, output_size) in [0, 1]."""
        logits = self.decision_function(X, batch_size=batch_size)
        return torch.sigmoid(torch.from_numpy(logits)).numpy()

    def __repr__(self) -> str:
        return (f"OfficialSeqKAN(input_size={self.input_size}, output_size={self.output_size}, "
                f"hidden_size={self.hidden_size}, variant={self.variant!r}, grid={self.grid}, "
                f"k={self.k}, seed={self.seed})")

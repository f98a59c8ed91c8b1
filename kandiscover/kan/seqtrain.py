r"""Training loop for last-step sequence classifiers, shared by every sequence model.

A sequence classifier reads a batch of sequences ``z`` (batch, time,
features) and gives the logits :math:`a` of ``K`` binary labels from its
state after the *last* step.  :func:`train_last_step` trains one in place:
Adam (or another ``torch.optim`` class) on the binary cross-entropy

.. math::
    \mathcal{L} = -\frac{1}{B K}\sum_{s, k} \bigl[y_{sk}\log\sigma(a_{sk})
                  + (1 - y_{sk})\log(1 - \sigma(a_{sk}))\bigr]
                  + \lambda\, P

of each minibatch (``P``: an optional penalty computed by the model's own
step function, so that it can reuse the forward pass), minibatches shuffled
by a caller-owned ``torch.Generator``, gradient-norm clipping, a hook before
every epoch (e.g. to move spline grids, which resets the optimizer), the
validation loss after every epoch, an optional learning-rate schedule
(:data:`LR_SCHEDULES`), and early stopping that restores the best weights.
:class:`~kandiscover.kan.seqkan.SeqKAN`, the recurrent baselines
(``kandiscover.compare.recurrent``) and the wrapped official seqKAN package
(``kandiscover.compare.seqkan_official``) all train through it.

:func:`train_sequence_classifier` is the same loop for any ``nn.Module``
mapping sequences to last-step logits, with the input checks at the boundary
(array-likes in, the history dict out); :func:`sequence_data` holds those
checks for the estimators' ``fit`` methods.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .._validation import as_numeric_array, check_int, check_positive
from ..errors import InputError, InputTypeError, TrainingError

__all__ = ["train_last_step", "train_sequence_classifier", "sequence_data",
           "check_settings", "check_schedule", "LR_SCHEDULES"]

#: learning-rate schedules of :func:`train_last_step`: ``"constant"``;
#: ``"plateau"``, which halves the rate after every ``lr_patience`` epochs
#: without a lower validation loss (counted like early stopping's patience, so
#: it survives optimizer resets); and ``"cosine"``, which lowers it from ``lr``
#: towards 0 over the ``epochs`` budget (``LambdaLR`` on the closed form of
#: cosine annealing).
LR_SCHEDULES = ("constant", "plateau", "cosine")

Step = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


# ------------------------------------------------------------- input checks
def _sequences(x: Any, name: str, n_features: int | None) -> np.ndarray:
    """Validate a batch of sequences (n, time, features) as a float64 array."""
    arr = as_numeric_array(x, name)
    if arr.ndim != 3:
        raise InputError(f"{name} must be 3-D (sequences, time steps, features), "
                         f"got shape {arr.shape}")
    if 0 in arr.shape:
        raise InputError(f"{name} is empty (shape {arr.shape}); at least one sequence "
                         "of at least one step is needed")
    if n_features is not None and arr.shape[2] != n_features:
        raise InputError(f"{name} has {arr.shape[2]} features per step but the model's "
                         f"input_size is {n_features}")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        seqs = np.unique(np.nonzero(bad)[0])
        shown = ", ".join(str(int(s)) for s in seqs[:5])
        more = f", ... ({len(seqs)} in all)" if len(seqs) > 5 else ""
        kind = "NaN" if np.isnan(arr).any() else "infinite"
        raise InputError(f"{name} has {int(bad.sum())} non-finite ({kind}) values, in "
                         f"sequences {shown}{more}")
    return arr


def _labels(y: Any, name: str, n: int, n_outputs: int) -> np.ndarray:
    """Validate 0/1 labels (n,) or (n, n_outputs) as a float64 (n, n_outputs) array."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        arr = np.asarray(y)
    except Exception as exc:
        raise InputTypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == np.bool_):
        raise InputTypeError(f"{name} must be numeric or boolean, got dtype {arr.dtype!s}")
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != n_outputs:
        raise InputError(f"{name} must have shape (n, {n_outputs}) (one label per output), "
                         f"got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} rows but there are {n} sequences")
    arr = arr.astype(np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        bad = arr[~((arr == 0) | (arr == 1))]
        raise InputError(f"{name} must hold binary labels (0/1 or bool); found "
                         f"{len(bad)} other values, e.g. {bad[0]!r}")
    return arr


def _n_label_columns(Y: Any) -> int:
    """Labels per sequence as ``_labels`` will see them: Y's second axis (1 for 1-D)."""
    try:
        shape = np.shape(Y.detach().cpu().numpy() if isinstance(Y, torch.Tensor) else Y)
    except ValueError:          # ragged input: let ``_labels`` report it
        return 1
    return int(shape[1]) if len(shape) == 2 else 1


def sequence_data(X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *,
                  n_features: int | None = None, n_labels: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validated float64 ``(X, Y, X_val, Y_val)`` for a sequence classifier.

    ``X`` (n, time, features) finite sequences, ``n_features`` per step when
    given; ``Y`` (n, n_labels) or (n,) 0/1 labels (bool accepted), returned as
    (n, n_labels), with ``n_labels`` taken from Y when not given; ``X_val`` and
    ``Y_val`` alike (given together or not at all; None, None without them).
    Raises :class:`~kandiscover.errors.InputError` naming the bad argument.
    """
    Xa = _sequences(X, "X", n_features)
    if n_labels is None:
        n_labels = _n_label_columns(Y)
    Ya = _labels(Y, "Y", len(Xa), n_labels)
    if (X_val is None) != (Y_val is None):
        raise InputError("X_val and Y_val must be given together")
    if X_val is None:
        return Xa, Ya, None, None
    Xva = _sequences(X_val, "X_val", Xa.shape[2])
    return Xa, Ya, Xva, _labels(Y_val, "Y_val", len(Xva), n_labels)


def check_settings(epochs: Any, batch_size: Any, patience: Any, lr: Any,
                   clip_grad: Any) -> tuple[int, int, int, float, float | None]:
    """The loop's settings validated: ``(epochs, batch_size, patience, lr, clip_grad)``."""
    return (check_int(epochs, "epochs", 1), check_int(batch_size, "batch_size", 1),
            check_int(patience, "patience", 1), check_positive(lr, "lr"),
            None if clip_grad is None else check_positive(clip_grad, "clip_grad"))


def check_schedule(lr_schedule: Any, lr_patience: Any, validation: bool) -> tuple[str, int]:
    """The schedule's settings validated: ``(lr_schedule, lr_patience)``;
    ``validation`` says whether validation data were given."""
    if not isinstance(lr_schedule, str) or lr_schedule not in LR_SCHEDULES:
        raise InputError(f"lr_schedule must be one of {', '.join(map(repr, LR_SCHEDULES))}, "
                         f"got {lr_schedule!r}")
    if lr_schedule == "plateau" and not validation:
        raise InputError("lr_schedule='plateau' follows the validation loss: give "
                         "validation data, or use 'cosine' or 'constant'")
    return lr_schedule, check_int(lr_patience, "lr_patience", 1)


def _cosine(opt: torch.optim.Optimizer, epochs: int, lr: float, done: int) -> Any:
    """Cosine annealing from ``lr`` on a fresh ``opt``, ``done`` epochs into the
    budget (the closed form, so a restart stays on the curve)."""
    from torch.optim.lr_scheduler import LambdaLR
    for group in opt.param_groups:
        group["initial_lr"] = lr
    return LambdaLR(opt, lambda e: (1.0 + math.cos(math.pi * e / epochs)) / 2,
                    last_epoch=done - 1)


# ------------------------------------------------------------------ the loop
def _mean_bce(logits: Callable[[torch.Tensor], torch.Tensor], Z: torch.Tensor,
              Y: torch.Tensor, batch_size: int) -> float:
    """Mean BCE of ``logits`` on (Z, Y), in batches of ``batch_size``, without gradients."""
    bce = nn.BCEWithLogitsLoss()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(Z), batch_size):
            zb = Z[i:i + batch_size]
            total += float(bce(logits(zb), Y[i:i + batch_size])) * len(zb)
    return total / len(Z)


@torch.enable_grad()          # a fit called under torch.no_grad() still trains
def train_last_step(
        module: nn.Module, Z: torch.Tensor, Y: torch.Tensor,
        Z_val: torch.Tensor | None = None, Y_val: torch.Tensor | None = None, *,
        generator: torch.Generator, epochs: int = 20, batch_size: int = 256,
        lr: float = 1e-2, patience: int = 4, clip_grad: float | None = 5.0,
        logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
        step: Step | None = None, penalty_weight: float = 1.0,
        before_epoch: Callable[[int], bool | None] | None = None,
        on_stall: Callable[[int], bool | None] | None = None,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr_schedule: str = "constant", lr_patience: int = 2,
        val_batch_size: int = 4096, verbose: bool = False, desc: str | None = None,
) -> dict[str, Any]:
    r"""Train ``module`` in place as a last-step sequence classifier (module docstring).

    Parameters
    ----------
    module : owns the trainable parameters (those with ``requires_grad``), the
        state saved for early stopping, and the train/eval mode
    Z, Y : training sequences (n, time, features) as the model reads them
        (already normalised) and 0/1 labels (n, n_labels), tensors of the
        model's dtype and device
    Z_val, Y_val : validation data (together or not at all): the mean
        validation BCE is computed after every epoch, training stops after
        ``patience`` epochs without a lower one and the weights of the best
        epoch are restored.  Without them every epoch runs, the last weights stay.
    generator : draws the order of every epoch, ``torch.randperm(n, generator)``;
        the caller's hooks may draw from it too
    epochs, batch_size, lr : one epoch is one shuffled pass over Z
    patience : epochs without a lower validation loss before stopping
    clip_grad : maximum gradient norm (None: no clipping)
    logits : ``logits(z) -> (batch, n_labels)``; default ``module``
    step : ``step(z) -> (logits, penalty or None)`` on each training batch;
        default ``(logits(z), None)``.  ``penalty_weight * penalty`` is added
        to the loss: a step can compute the penalty from its own forward pass.
    before_epoch : called as ``before_epoch(epoch)`` at the start of every
        epoch; a true return value (e.g. spline grids were moved) gives a
        fresh optimizer.  When the hook changed the shapes of the module's
        state (a grid extension), the weights kept for early stopping cannot
        be restored: the early stopping starts afresh from that epoch.
    on_stall : called as ``on_stall(epoch)`` when the patience runs out at the
        end of ``epoch`` (before the last), after the best epoch's weights were
        restored.  A true return value (it changed the model, e.g. moved on to
        a finer grid ahead of its schedule) continues the training with a fresh
        optimizer and a fresh patience; the early stopping starts afresh as
        after ``before_epoch`` when the state's shapes changed.  False or None
        stops the training.
    optimizer : ``torch.optim`` class, called as ``optimizer(params, lr=lr)``
    lr_schedule, lr_patience : one of :data:`LR_SCHEDULES`; ``"plateau"``
        halves the rate after every ``lr_patience`` epochs without a lower
        validation loss (so it acts only when ``lr_patience < patience``) and
        needs validation data; ``"cosine"`` follows
        ``lr (1 + cos(pi e / epochs)) / 2`` in epoch ``e``.  A fresh optimizer
        (after ``before_epoch``) starts at the rate the schedule had reached.
    val_batch_size : sequences per batch of the validation loss
    verbose, desc : tqdm bar over epochs (shown only when stderr is a terminal)

    Returns
    -------
    dict
        ``train_loss`` (mean training BCE per epoch, without the penalty),
        ``val_loss`` (mean validation BCE per epoch; empty without validation
        data), ``penalty`` (mean penalty per epoch, before ``penalty_weight``;
        0 without one), ``seconds`` (wall time of each epoch, validation
        included), ``best_epoch`` (epoch of the lowest validation loss, whose
        weights the module now holds; None without validation data),
        ``stopped_early`` (True when the patience ran out) and ``lr`` (the
        learning rate of each epoch).  The module is left in eval mode.

    Raises
    ------
    InputError
        bad settings, or logits whose shape is not the labels' shape
    TrainingError
        when the training loss or the penalty becomes NaN or infinite
    """
    epochs, batch_size, patience, lr, clip_grad = check_settings(
        epochs, batch_size, patience, lr, clip_grad)
    val_batch_size = check_int(val_batch_size, "val_batch_size", 1)
    if (Z_val is None) != (Y_val is None):
        raise InputError("Z_val and Y_val must be given together")
    lr_schedule, lr_patience = check_schedule(lr_schedule, lr_patience, Z_val is not None)
    forward = module if logits is None else logits
    if step is None:
        def step(z: torch.Tensor) -> tuple[torch.Tensor, None]:
            return forward(z), None

    def make_optimizer(rate: float, done: int) -> tuple[list[nn.Parameter],
                                                         torch.optim.Optimizer, Any]:
        params = [p for p in module.parameters() if p.requires_grad]
        opt = optimizer(params, lr=rate)
        return params, opt, (_cosine(opt, epochs, lr, done) if lr_schedule == "cosine"
                             else None)

    params, opt, sched = make_optimizer(lr, 0)
    bce = nn.BCEWithLogitsLoss()
    n = len(Z)
    hist: dict[str, Any] = dict(train_loss=[], val_loss=[], penalty=[], seconds=[], lr=[],
                                best_epoch=None, stopped_early=False)
    best_val, best_state, since_best = math.inf, None, 0
    bar = tqdm(total=epochs, disable=not verbose or not sys.stderr.isatty(),
               desc=desc or f"{type(module).__name__} fit", leave=False)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            if before_epoch is not None and before_epoch(epoch):
                params, opt, sched = make_optimizer(opt.param_groups[0]["lr"], epoch)
                if best_state is not None and not _same_shapes(best_state, module):
                    # the hook changed the model (a grid extension): the kept weights
                    # cannot come back, the early stopping starts afresh
                    best_val, best_state, since_best = math.inf, None, 0
            hist["lr"].append(opt.param_groups[0]["lr"])
            module.train()
            perm = torch.randperm(n, generator=generator).to(Z.device)
            loss_sum = pen_sum = 0.0
            for b in range(0, n, batch_size):
                idx = perm[b:b + batch_size]
                z, yb = Z[idx], Y[idx]
                opt.zero_grad()
                out, pen = step(z)
                if out.shape != yb.shape:
                    raise InputError(f"the module returned logits of shape "
                                     f"{tuple(out.shape)} for a batch whose labels have "
                                     f"shape {tuple(yb.shape)} (one logit per label)")
                loss = bce(out, yb)
                total = loss
                if pen is not None:
                    total = total + penalty_weight * pen
                    pen_sum += float(pen.detach()) * len(idx)
                total.backward()
                if clip_grad is not None:
                    nn.utils.clip_grad_norm_(params, clip_grad)
                opt.step()
                loss_sum += float(loss.detach()) * len(idx)
            train = loss_sum / n
            if not math.isfinite(train) or not math.isfinite(pen_sum):
                pen_note = f" (penalty {pen_sum / n})" if pen_sum else ""
                raise TrainingError(f"training diverged in epoch {epoch}: the loss is "
                                    f"{train}{pen_note}; try a smaller lr (now {lr})")
            hist["train_loss"].append(train)
            hist["penalty"].append(pen_sum / n)
            if Z_val is not None:
                module.eval()
                v = _mean_bce(forward, Z_val, Y_val, val_batch_size)
                hist["val_loss"].append(v)
                if v < best_val:
                    best_val, since_best, hist["best_epoch"] = v, 0, epoch
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    since_best += 1
            if sched is not None:
                sched.step()
            elif lr_schedule == "plateau" and since_best and since_best % lr_patience == 0:
                for group in opt.param_groups:
                    group["lr"] *= 0.5
            hist["seconds"].append(time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(train=f"{train:.4f}",
                            **({"val": f"{hist['val_loss'][-1]:.4f}"} if hist["val_loss"]
                               else {}))
            if Z_val is not None and since_best >= patience:
                if on_stall is not None and epoch + 1 < epochs:
                    if best_state is not None:
                        module.load_state_dict(best_state)
                    if on_stall(epoch):
                        params, opt, sched = make_optimizer(opt.param_groups[0]["lr"],
                                                            epoch + 1)
                        since_best = 0
                        if best_state is not None and not _same_shapes(best_state, module):
                            best_val, best_state = math.inf, None
                        continue
                hist["stopped_early"] = True
                break
    finally:
        bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return hist


def _same_shapes(state: dict[str, torch.Tensor], module: nn.Module) -> bool:
    now = module.state_dict()
    return state.keys() == now.keys() and all(state[k].shape == now[k].shape for k in now)


def _module_dtype(module: nn.Module) -> tuple[torch.dtype, torch.device]:
    for p in module.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


def train_sequence_classifier(
        module: nn.Module, X: Any, Y: Any, X_val: Any = None, Y_val: Any = None, *,
        epochs: int = 20, batch_size: int = 256, lr: float = 1e-2, patience: int = 4,
        clip_grad: float | None = 5.0, seed: int = 0, verbose: bool = False,
        before_epoch: Callable[[int], Any] | None = None,
        penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
        lr_schedule: str = "constant", lr_patience: int = 2,
) -> dict[str, Any]:
    r"""Train ``module`` in place as a last-step sequence classifier.

    :func:`train_last_step` with Adam, for array-likes checked at the boundary.

    Parameters
    ----------
    module : torch module mapping normalised sequences ``z`` (batch, time,
        features) to last-step logits (batch, n_labels)
    X : (n, time, features) sequences, already normalised (the module sees
        them as given); array-like or tensor, converted to the module's dtype
    Y : (n, n_labels) or (n,) 0/1 labels (bool accepted)
    X_val, Y_val : validation data (given together or not at all); the mean
        validation BCE is computed after every epoch, training stops after
        ``patience`` epochs without improvement and the weights of the best
        epoch are restored.  Without them every epoch runs and the last
        weights are kept.
    epochs, batch_size, lr : Adam settings; one epoch is one pass over X in an
        order shuffled by ``torch.Generator().manual_seed(seed)``
    patience : epochs without a lower validation loss before stopping
    clip_grad : maximum gradient norm (None: no clipping)
    seed : seeds the shuffling
    verbose : tqdm bar over epochs (shown only when stderr is a terminal)
    before_epoch : called as ``before_epoch(epoch)`` at the start of every
        epoch (e.g. to move spline grids); a true return value resets Adam
    penalty : called as ``penalty(z)`` on every training batch ``z``; the
        scalar tensor it returns is added to the loss
    lr_schedule, lr_patience : learning-rate schedule (:data:`LR_SCHEDULES`)

    Returns
    -------
    dict
        as :func:`train_last_step`: ``train_loss``, ``val_loss``, ``penalty``,
        ``seconds``, ``lr``, ``best_epoch`` and ``stopped_early``

    Raises
    ------
    InputError
        bad sequences or labels (shape, NaN/inf, not 0/1, lengths), or a
        module whose logits do not have Y's shape
    TrainingError
        when the training loss becomes NaN or infinite
    """
    if not isinstance(module, nn.Module):
        raise InputError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    check_settings(epochs, batch_size, patience, lr, clip_grad)
    check_schedule(lr_schedule, lr_patience, X_val is not None or Y_val is not None)
    seed = check_int(seed, "seed", 0)
    dtype, device = _module_dtype(module)
    Z, Yt, Zv, Yv = (None if a is None else torch.as_tensor(a, dtype=dtype, device=device)
                     for a in sequence_data(X, Y, X_val, Y_val))

    def step(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return module(z), (None if penalty is None else penalty(z))

    return train_last_step(module, Z, Yt, Zv, Yv,
                           generator=torch.Generator().manual_seed(seed), epochs=epochs,
                           batch_size=batch_size, lr=lr, patience=patience,
                           clip_grad=clip_grad, step=step, before_epoch=before_epoch,
                           lr_schedule=lr_schedule, lr_patience=lr_patience, verbose=verbose)

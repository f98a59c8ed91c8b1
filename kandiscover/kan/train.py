"""The fit loop: LBFGS or Adam, sparsity regularization, grid updates,
validation and early stopping.

Every random choice (validation split, minibatches, regularization
subsamples) is drawn from a ``torch.Generator`` seeded from ``seed`` (the
model's seed by default): the same seed gives bitwise-identical parameters.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .._validation import check_Xy, check_fraction, check_int, check_positive
from ..errors import InputError, TrainingError
from ..sparsify.regularize import regularization, spline_roughness

__all__ = ["fit", "History"]


@dataclass
class History:
    """Losses per training step.

    ``train_loss`` and ``val_loss`` are root-mean-square errors when the
    default squared loss is used (the value of ``loss_fn`` otherwise), without
    the penalty, which is ``reg``: what was added to the training loss, its
    weights (``lamb``, ``lamb_smooth``) applied; 0 without one.
    ``lr`` is the learning rate of each epoch of the sequence models (empty
    for :func:`fit`); ``grid_refinements`` their grid extensions, (first
    epoch on the new grid, its number of intervals).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    reg: list[float] = field(default_factory=list)
    grid_updates: list[int] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False
    lr: list[float] = field(default_factory=list)
    grid_refinements: list[tuple[int, int]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.train_loss)


def _rmse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - target) ** 2)


def fit(model, X: Any, y: Any, *, opt: str = "lbfgs", steps: int = 100,
        lr: float | None = None, batch_size: int | None = None, lamb: float = 0.0,
        lamb_l1: float = 1.0, lamb_entropy: float = 2.0, lamb_coef: float = 0.0,
        lamb_coefdiff: float = 0.0, lamb_smooth: float = 0.0, update_grid: bool = True,
        grid_update_num: int = 10,
        stop_grid_update_step: int = 50, val_fraction: float = 0.0, X_val: Any = None,
        y_val: Any = None, early_stopping: bool = False, patience: int = 20,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        reg_samples: int = 512, lbfgs_max_iter: int = 20, lbfgs_tolerance: float = 1e-32,
        seed: int | None = None,
        verbose: bool = True) -> History:
    """Train ``model`` in place on (X, y) and return the :class:`History`.

    Parameters
    ----------
    X, y : array-like (n, width[0]) and (n,) or (n, n_outputs)
    opt : "lbfgs" (full batch by default, strong-Wolfe line search) or "adam"
    steps : optimizer steps (one LBFGS step runs up to ``lbfgs_max_iter`` iterations)
    lr : learning rate (default 1.0 for LBFGS, 1e-2 for Adam)
    batch_size : rows per step (default: all training rows)
    lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff : sparsity penalty,
        see :mod:`kandiscover.sparsify.regularize`
    lamb_smooth : weight of the P-spline roughness penalty
        (:func:`~kandiscover.sparsify.regularize.spline_roughness`, squared
        second differences of the spline coefficients): it straightens the
        edges' functions without pushing them to zero, independently of ``lamb``
    update_grid : move the grids to the data ``grid_update_num`` times,
        evenly over the first ``stop_grid_update_step`` steps
    val_fraction : fraction of rows held out for validation (or pass X_val, y_val)
    early_stopping : stop when the validation loss has not improved for
        ``patience`` steps and restore the best parameters
    loss_fn : callable(pred, target) -> scalar; default mean squared error
    reg_samples : rows of each batch on which the penalty's activations are computed
    lbfgs_max_iter, lbfgs_tolerance : iterations per LBFGS step, and the change in
        loss or parameters below which a step ends early (the default never does)
    seed : seeds this call's generator (default: the model's seed)
    verbose : show a progress bar (only on a terminal)
    """
    if opt not in ("lbfgs", "adam"):
        raise InputError(f"opt must be 'lbfgs' or 'adam', got {opt!r}")
    steps = check_int(steps, "steps", 1)
    patience = check_int(patience, "patience", 1)
    val_fraction = check_fraction(val_fraction, "val_fraction", inclusive_high=False)
    for name, v in (("lamb", lamb), ("lamb_l1", lamb_l1), ("lamb_entropy", lamb_entropy),
                    ("lamb_coef", lamb_coef), ("lamb_coefdiff", lamb_coefdiff),
                    ("lamb_smooth", lamb_smooth)):
        check_positive(v, name, allow_zero=True)
    lr = (1.0 if opt == "lbfgs" else 1e-2) if lr is None else check_positive(lr, "lr")
    Xa, ya = check_Xy(X, y, n_features=model.n_inputs, n_targets=model.n_outputs)
    gen = torch.Generator().manual_seed(model.seed if seed is None else int(seed))
    dev = model.layers[0].coef.device
    Xt = torch.as_tensor(Xa, dtype=model.dtype, device=dev)
    yt = torch.as_tensor(ya, dtype=model.dtype, device=dev)
    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise InputError("X_val and y_val must be given together")
        Xv, yv = check_Xy(X_val, y_val, n_features=model.n_inputs,
                          n_targets=model.n_outputs, X_name="X_val", y_name="y_val")
        Xv = torch.as_tensor(Xv, dtype=model.dtype, device=dev)
        yv = torch.as_tensor(yv, dtype=model.dtype, device=dev)
    elif val_fraction > 0:
        n_val = int(round(val_fraction * len(Xt)))
        if n_val < 1 or n_val >= len(Xt):
            raise InputError(f"val_fraction={val_fraction} leaves no rows for training or "
                             f"validation out of {len(Xt)}")
        perm = torch.randperm(len(Xt), generator=gen).to(dev)
        Xv, yv = Xt[perm[:n_val]], yt[perm[:n_val]]
        Xt, yt = Xt[perm[n_val:]], yt[perm[n_val:]]
    else:
        Xv = yv = None
    if early_stopping and Xv is None:
        raise InputError("early_stopping needs validation data: set val_fraction > 0 "
                         "or pass X_val and y_val")
    n = len(Xt)
    bs = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
    reg_samples = check_int(reg_samples, "reg_samples", 1)
    criterion = loss_fn or _rmse_loss
    report = (lambda v: math.sqrt(max(v, 0.0))) if loss_fn is None else (lambda v: v)

    sample = torch.randperm(n, generator=gen)[:1000].to(dev)
    model.fit_sample_ = Xt[sample].detach().clone()

    def make_optimizer():
        params = [p for p in model.parameters() if p.requires_grad]
        if opt == "adam":
            return torch.optim.Adam(params, lr=lr)
        return torch.optim.LBFGS(params, lr=lr, max_iter=lbfgs_max_iter, history_size=10,
                                 line_search_fn="strong_wolfe", tolerance_grad=1e-32,
                                 tolerance_change=lbfgs_tolerance)

    optimizer = make_optimizer()
    freq = max(1, stop_grid_update_step // max(grid_update_num, 1))
    hist = History()
    best_val, best_state, since_best = math.inf, None, 0
    bar = tqdm(total=steps, disable=not verbose or not sys.stderr.isatty(),
               desc="fit", leave=False)
    try:
        for step in range(steps):
            if update_grid and step < stop_grid_update_step and step % freq == 0:
                model.update_grid(Xt)
                hist.grid_updates.append(step)
                optimizer = make_optimizer()
            if bs < n:
                idx = torch.randperm(n, generator=gen)[:bs].to(dev)
                xb, yb = Xt[idx], yt[idx]
            else:
                xb, yb = Xt, yt
            ridx = None
            if lamb > 0 and len(xb) > reg_samples:
                ridx = torch.randperm(len(xb), generator=gen)[:reg_samples].to(dev)
            last = {}

            def closure():
                optimizer.zero_grad()
                if lamb > 0:  # one forward pass serves the loss and the penalty
                    nodes, _ = model.trace(xb)
                    pred = nodes[-1]
                else:
                    pred = model(xb)
                objective = criterion(pred, yb)
                last["obj"] = objective.detach()
                penalty = objective.new_zeros(())
                if lamb > 0:
                    inputs = [h if ridx is None else h[ridx] for h in nodes[:-1]]
                    penalty = lamb * regularization(model, inputs, lamb_l1, lamb_entropy,
                                                    lamb_coef, lamb_coefdiff)
                if lamb_smooth > 0:
                    penalty = penalty + lamb_smooth * spline_roughness(model)
                last["reg"] = penalty.detach()
                total = objective + penalty
                total.backward()
                return total

            if opt == "lbfgs":
                optimizer.step(closure)
            else:
                closure()
                optimizer.step()
            with torch.no_grad():
                obj = float(criterion(model(xb), yb)) if opt == "lbfgs" else float(last["obj"])
            if not math.isfinite(obj):
                raise TrainingError(f"training diverged at step {step}: the loss is {obj}; "
                                    f"try a smaller lr (now {lr}) or opt='adam'")
            hist.train_loss.append(report(obj))
            hist.reg.append(float(last.get("reg", 0.0)))
            if Xv is not None:
                with torch.no_grad():
                    v = report(float(criterion(model(Xv), yv)))
                hist.val_loss.append(v)
                if v < best_val:
                    best_val, since_best, hist.best_step = v, 0, step
                    if early_stopping:
                        best_state = copy.deepcopy(model.state_dict())
                else:
                    since_best += 1
                if early_stopping and since_best >= patience:
                    hist.stopped_early = True
                    break
            bar.update(1)
            bar.set_postfix(train=f"{hist.train_loss[-1]:.3e}",
                            **({"val": f"{hist.val_loss[-1]:.3e}"} if hist.val_loss else {}))
    finally:
        bar.close()
    if early_stopping and best_state is not None:
        model.load_state_dict(best_state)
    return hist


class torch_threads:
    """Context manager: run with ``n`` torch intra-op threads, then restore the
    caller's setting.  Small networks (seqKAN, KAN edge fits) run several times
    faster on one thread than on two (measured: a TKAN test fit 2.2 s against
    24.7 s on 2 cores), and parallel tasks each want one."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self) -> None:
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)


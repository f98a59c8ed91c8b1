"""Exploration script: does per-window amplitude normalisation help on energy_increasing?

Trains one model on the study's windows with the inputs transformed per window
and prints its test ROC-AUCs as one JSON line (nothing is written).  The
findings are in README.md ("Lead found 2026-11-24").

    OMP_NUM_THREADS=1 .venv/bin/python studies/pendulum/window_inputs.py \
        --model seqkan --hidden 4 --inputs window+ [--epochs 20] [--seed 0]

Inputs: ``raw``, ``window`` (theta and omega divided by their RMS over the
window), ``window+`` (that, plus log RMS of each as two constant extra
inputs), ``window+theta`` (log RMS of theta only) or ``oscillator`` (the
study's inputs since 2026-11-24, :func:`kandiscover.kan.seqkan.oscillator_scaled`).
The dataset is ``studies/pendulum/pendulum.h5``, which ``kandiscover study pendulum`` writes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from kandiscover.data import pendulum
from kandiscover.data.dataset import load_dataset
from kandiscover.kan.seqkan import oscillator_scaled, window_scaled
from kandiscover.kan.train import torch_threads

SPLITS = ("train", "val", "test_interp", "test_extrap")


def transform(X: np.ndarray, inputs: str, dt: float, keep: int | None = None) -> np.ndarray:
    """(n, time, features) windows sampled every ``dt`` -> the model's inputs:
    the last ``keep`` steps (default all), scaled by statistics of the whole window."""
    X = np.asarray(X, float)
    keep = X.shape[1] if keep is None else keep
    if inputs == "raw":
        return X[:, -keep:]
    if inputs == "oscillator":      # over the swing amplitude (omega also over w0), log amp
        return oscillator_scaled(X, dt)[:, -keep:]
    out = window_scaled(X)          # [x / rms, log rms]
    if inputs == "window":
        out = out[:, :, :X.shape[2]]
    elif inputs == "window+theta":  # log RMS of theta only
        out = out[:, :, :X.shape[2] + 1]
    return out[:, -keep:]


def build(model: str, n_in: int, hidden: int, seed: int, width=None, memory=(2.0, 20.0),
          grid: int = 5):
    if model in ("seqkan", "seqkan_wide"):
        from kandiscover.kan.seqkan import SeqKAN
        return SeqKAN(n_in, hidden, 2, grid=grid, seed=seed, hidden_width=width, memory=memory,
                      variant="wide" if model == "seqkan_wide" else "standard")
    from kandiscover.compare import recurrent
    cls = {"lstm": recurrent.LSTMClassifier, "rnn": recurrent.RNNClassifier,
           "tkan": recurrent.TKANClassifier}[model]
    return cls(n_in, 2, hidden_size=hidden, seed=seed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("seqkan", "seqkan_wide", "lstm", "rnn", "tkan"),
                   default="seqkan")
    p.add_argument("--hidden", type=int, default=4)
    p.add_argument("--inputs", default="window+",
                   choices=("raw", "window", "window+", "window+theta", "oscillator"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--grid", type=int, default=5, help="seqKAN grid intervals")
    p.add_argument("--window", type=int, default=pendulum.WINDOW)
    p.add_argument("--stride", type=int, default=pendulum.STRIDE)
    p.add_argument("--context", type=int, default=None,
                   help="scale over this many steps, then feed the last --window of them")
    p.add_argument("--memory", type=float, nargs=2, default=(2.0, 20.0),
                   help="seqKAN: initial memory time constants (steps)")
    p.add_argument("--hidden-width", type=int, nargs="+", default=None,
                   help="seqKAN: a hidden layer in both maps (a width, or n_sum n_mult)")
    p.add_argument("--dataset", default=str(Path(__file__).with_name("pendulum.h5")))
    a = p.parse_args()
    ds = load_dataset(a.dataset)
    data = {}
    for split in SPLITS:
        w = ds.windows(split, a.context or a.window, a.stride)
        data[split] = (transform(w.inputs, a.inputs, 1.0 / float(ds.attrs["sample_rate_hz"]),
                                  a.window), w.labels.astype(np.float64))
    with torch_threads(1):
        width = None if a.hidden_width is None else (
            a.hidden_width[0] if len(a.hidden_width) == 1 else tuple(a.hidden_width))
        m = build(a.model, data["train"][0].shape[2], a.hidden, a.seed, width,
                  tuple(a.memory), a.grid)
        t = time.perf_counter()
        m.fit(data["train"][0], data["train"][1], data["val"][0], data["val"][1],
              epochs=a.epochs, batch_size=256, patience=a.patience, lr=a.lr)
        out = {"model": a.model, "hidden": a.hidden, "inputs": a.inputs, "seed": a.seed,
               "window": a.window, "stride": a.stride, "hidden_width": a.hidden_width,
               "memory": a.memory, "context": a.context, "lr": a.lr,
               "patience": a.patience, "grid": a.grid, "epochs": a.epochs,
               "seconds": round(time.perf_counter() - t)}
        for split in SPLITS[2:]:
            prob = m.predict_proba(data[split][0])
            out[split] = {lab: round(float(roc_auc_score(data[split][1][:, j], prob[:, j])), 3)
                          for j, lab in enumerate(pendulum.LABELS)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

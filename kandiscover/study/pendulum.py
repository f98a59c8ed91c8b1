"""The hidden-variable pendulum study (seqKAN paper, Boura and Konstantopoulos 2025).

Every method is trained on the same training windows of the variable-length
pendulum (:mod:`kandiscover.data.pendulum`; length and stride in the study's
``windows`` settings) to predict the two labels at each window's last step,
with the same epoch budget, early stopping on the validation split and seeds,
then scored by ROC-AUC and PR-AUC on the interpolation and extrapolation test
splits.  With ``windows.scale`` every method reads the same per-window scaled
inputs (:func:`kandiscover.kan.seqkan.scale_windows`): ``"oscillator"`` (the
study's setting: theta and omega over the swing amplitude of the window, omega
also over its angular frequency, and the log amplitude) or ``"rms"`` (theta
and omega over their RMS in the window, and the log RMS); the seqKANs compute
them inside the model (``SeqKAN(window_scale=...)``), so their rules come out
in raw variables.

========================  ====================================================
``seqkan``                our seqKAN (standard: Phi_o reads x_{t-1} and h_t),
                          grid 5 extended to 10 from epoch 30 (``grid_refine``)
``seqkan_wide``           our seqKAN/wide (Phi_o reads h_t only), with a hidden
                          layer of 4 sum and 2 product nodes in Phi_o alone
                          (``output_width``), the same grid extension
``rnn``, ``lstm``         torch's tanh RNN and LSTM
``tkan``                  TKAN (:class:`kandiscover.compare.recurrent.TKANClassifier`)
``seqkan_official``       the authors' package seqkan 0.8.1 (``bench`` extra),
                          on a subsample of the windows: it is ~10x slower
``operon``                Operon on the last step (theta_t, omega_t,
                          theta_{t-1}, omega_{t-1}), one formula per label
========================  ====================================================

Each finished run goes to ``results.h5`` at once (:class:`ResultStore`); a
rerun skips finished runs; ``workers`` trains runs in parallel processes.
The seqKAN runs then get a hidden-state analysis
(:func:`kandiscover.compare.hidden.hidden_state_analysis`, with the symbolic
rules refined through the recurrence; also ``workers`` at a time), and
:mod:`.pendulum_report` writes report.md and the figures.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from tqdm.auto import tqdm

from .._validation import check_int, check_positive
from ..data import pendulum
from ..data.dataset import SequenceDataset, load_dataset, save_dataset
from ..errors import InputError, InputTypeError, KandiscoverError
from ..kan.train import torch_threads
from .executors import pooled, sigterm_interrupts, worker_shared
from .results import ResultStore, differences, study_folder

__all__ = ["run_pendulum_study", "study_config", "METHODS", "TEST_SPLITS"]

METHODS = ("seqkan", "seqkan_wide", "rnn", "lstm", "tkan", "seqkan_official", "operon")
TEST_SPLITS = ("test_interp", "test_extrap")
#: default seconds a run or an analysis may take in a worker process (about 15
#: times the longest measured, a seqKAN run of about 450 s on one core)
RUN_TIMEOUT = 7200.0
DATASET_FILE = "pendulum.h5"

# passed as keywords to the fit of every seqKAN and recurrent baseline: only
# settings they all take (each method's own go in its section, e.g. "lr")
_COMMON = dict(epochs=60, batch_size=256, patience=8, lr_schedule="cosine")
_FULL = {
    "dataset": dict(seed=0),
    "windows": dict(length=pendulum.WINDOW, stride=pendulum.STRIDE, scale="oscillator"),
    "train": _COMMON,
    "seqkan": dict(hidden_size=8, hidden_width=None, grid=5, grid_refine=[[30, 10]],
                   lr=3e-3),
    "seqkan_wide": dict(hidden_size=8, hidden_width=None, output_width=[4, 2], grid=5,
                        grid_refine=[[30, 10]], lamb_smooth=[1e-3, 0.0], lr=3e-3),
    "rnn": dict(hidden_size=16, lr=1e-2),
    "lstm": dict(hidden_size=16, lr=1e-2),
    "tkan": dict(hidden_size=16, lr=1e-2),
    "seqkan_official": dict(hidden_size=1, grid=5, max_windows=6400, epochs=4, patience=2),
    "operon": dict(time_budget=30.0, max_samples=5000, target="logit"),
}
_QUICK_CHANGES = {
    "dataset": dict(n_train=24, n_val=6, n_interp=6, n_extrap=6, duration=10.0),
    "train": dict(epochs=2, batch_size=64, patience=2),
    "seqkan": dict(hidden_size=4, grid_refine=[[1, 10]]),
    "seqkan_wide": dict(hidden_size=4, grid_refine=[[1, 10]]),
    "rnn": dict(hidden_size=8), "lstm": dict(hidden_size=8), "tkan": dict(hidden_size=8),
    "seqkan_official": dict(max_windows=64, epochs=1, patience=1),
    "operon": dict(time_budget=1.0, max_samples=500),
}
_QUICK = {k: v | _QUICK_CHANGES.get(k, {}) for k, v in _FULL.items()}


#: settings a section reads beyond those in its defaults
_OPTIONAL_SETTINGS = {"seqkan": ("output_width", "lamb_smooth", "memory"),
                      "seqkan_wide": ("lamb_smooth", "memory")}


def study_config(quick: bool = False, settings: dict | None = None) -> dict[str, Any]:
    """The settings of the full or the quick study (a fresh copy), with
    ``settings`` (``{section: {key: value}}``, e.g. ``{"train": {"epochs": 60},
    "seqkan": {"output_width": [4, 2]}}``) replacing its defaults.  The
    sections are ``train`` (every neural model's fit) and the methods; the
    models check the values when they are built."""
    cfg = json.loads(json.dumps(_QUICK if quick else _FULL))
    if settings is None:
        return cfg
    if not isinstance(settings, dict):
        raise InputTypeError(f"settings must be a dict of sections, got {settings!r}")
    for section, values in settings.items():
        if section not in ("train", *METHODS):
            raise InputError(f"settings has an unknown section {section!r}; the sections "
                             f"are train, {', '.join(METHODS)}")
        if not isinstance(values, dict):
            raise InputTypeError(f"settings[{section!r}] must be a dict of settings, "
                                 f"got {values!r}")
        known = (*cfg[section], *_OPTIONAL_SETTINGS.get(section, ()))
        unknown = sorted(k for k in values if k not in known)
        if unknown:
            raise InputError(f"settings[{section!r}] has unknown key(s) "
                             f"{', '.join(map(repr, unknown))}; it takes "
                             f"{', '.join(sorted(known))}")
        cfg[section] |= json.loads(json.dumps(values))
    return cfg


# ------------------------------------------------------------------ dataset
def _dataset(out: Path, cfg: dict, dataset: str | os.PathLike | SequenceDataset | None
             ) -> SequenceDataset:
    if isinstance(dataset, SequenceDataset):
        ds = dataset
    elif dataset is not None:
        ds = load_dataset(dataset)
        if not isinstance(ds, SequenceDataset):
            raise InputError(f"{dataset} holds a {ds.kind} dataset; the pendulum study needs "
                             "a sequence dataset (kandiscover dataset pendulum OUT.h5)")
    elif (out / DATASET_FILE).exists():
        ds = load_dataset(out / DATASET_FILE)
        _check_cached(ds, cfg["dataset"], out / DATASET_FILE)
    else:
        ds = pendulum.make_pendulum(**cfg["dataset"])
        out.mkdir(parents=True, exist_ok=True)
        save_dataset(ds, out / DATASET_FILE)
    if ds.attrs.get("source") != "kandiscover.data.pendulum":
        raise InputError("the pendulum study needs a dataset made by "
                         "kandiscover.data.pendulum (its 'source' attribute says "
                         f"{ds.attrs.get('source')!r})")
    for split in ("train", "val", *TEST_SPLITS):
        if split not in ds.groups.get("splits", {}):
            raise InputError(f"the dataset has no {split!r} split")
    return pendulum.pendulum_view(ds)


def _check_cached(ds: Any, settings: dict, path: Path) -> None:
    """Refuse a cached dataset that the study's settings would not make."""
    import inspect
    want = {k: v.default for k, v in inspect.signature(pendulum.make_pendulum).parameters.items()}
    want |= settings
    have = {"seed": ds.attrs.get("seed"), "duration": ds.attrs.get("duration_s"),
            "dt": ds.attrs.get("dt"), "rate_hz": ds.attrs.get("sample_rate_hz"),
            "generator_version": ds.attrs.get("generator_version")}
    if isinstance(ds, SequenceDataset):
        have |= {f"n_{k}": len(v) for k, v in ds.groups.get("splits", {}).items()}
    want = {"seed": want["seed"], "duration": want["duration"], "dt": want["dt"],
            "rate_hz": want["rate_hz"], "generator_version": pendulum.GENERATOR_VERSION,
            "n_train": want["n_train"], "n_val": want["n_val"],
            "n_test_interp": want["n_interp"], "n_test_extrap": want["n_extrap"]}
    diff = [k for k in want if have.get(k) is None or float(have[k]) != float(want[k])]
    if diff:
        raise InputError(f"{path} was made with other settings than this study's "
                         f"({', '.join(f'{k}: {have.get(k)} instead of {want[k]}' for k in diff)}); "
                         "use another --out folder or delete the file")


def _dataset_identity(ds: SequenceDataset) -> dict[str, Any]:
    return {k: ds.attrs.get(k) for k in ("seed", "generator_version", "theta_star",
                                        "duration_s", "sample_rate_hz")} | {
        "n_sequences": int(ds.n_sequences),
        "splits": {k: int(len(v)) for k, v in ds.groups["splits"].items()}}


# ------------------------------------------------------------------ methods
def _fit_info(train_loss: list, val_loss: list, best: int | None, stopped: bool) -> dict:
    """Epochs run, the epoch early stopping kept, its validation loss, and whether it stopped."""
    return {"epochs_run": len(train_loss), "best_epoch": -1 if best is None else int(best),
            "stopped_early": bool(stopped),
            "best_val_loss": float("nan") if best is None else float(val_loss[best])}


def _seqkan(variant: str):
    def build(cfg: dict, tr: dict, seed: int, data: dict) -> tuple[Any, dict]:
        from ..kan.seqkan import SeqKAN
        m = SeqKAN(2, cfg["hidden_size"], 2, variant=variant, hidden_width=cfg["hidden_width"],
                   output_width=cfg.get("output_width"), grid=cfg["grid"],
                   window_scale=data["scale"], dt=data["dt"], seed=seed,
                   **({"memory": cfg["memory"]} if "memory" in cfg else {}))
        hist = m.fit(data["X"], data["Y"], data["Xv"], data["Yv"], lr=cfg["lr"],
                     grid_refine=cfg["grid_refine"],
                     lamb_smooth=cfg.get("lamb_smooth", 0.0), **tr)
        info = _fit_info(hist.train_loss, hist.val_loss, hist.best_step, hist.stopped_early)
        state = {f"state.{k}": v.detach().cpu().numpy() for k, v in m.state_dict().items()}
        info["_arrays"] = state
        info["model_config"] = m.config
        return m, info
    return build


def _recurrent(cls_name: str):
    def build(cfg: dict, tr: dict, seed: int, data: dict) -> tuple[Any, dict]:
        from ..compare import recurrent
        m = getattr(recurrent, cls_name)(data["X"].shape[2], 2, hidden_size=cfg["hidden_size"],
                                         seed=seed)
        m.fit(data["X"], data["Y"], data["Xv"], data["Yv"], lr=cfg["lr"], **tr)
        h = m.history_
        return m, _fit_info(h["train_loss"], h["val_loss"], h["best_epoch"], h["stopped_early"])
    return build


def _official(cfg: dict, tr: dict, seed: int, data: dict) -> tuple[Any, dict]:
    from ..compare.seqkan_official import OfficialSeqKAN, available
    ok, reason = available()
    if not ok:
        raise _Unavailable(reason)
    m = OfficialSeqKAN(data["X"].shape[2], 2, hidden_size=cfg["hidden_size"], grid=cfg["grid"],
                       seed=seed)
    m.fit(data["X"], data["Y"], data["Xv"], data["Yv"], epochs=cfg["epochs"],
          batch_size=64, patience=cfg["patience"], max_windows=cfg["max_windows"])
    return m, {}


def _operon(cfg: dict, tr: dict, seed: int, data: dict) -> tuple[Any, dict]:
    from ..compare.last_step_sr import OperonLabelClassifier
    m = OperonLabelClassifier(time_budget=cfg["time_budget"], seed=seed, target=cfg["target"],
                              max_samples=cfg["max_samples"])
    m.fit(data["X"], data["Y"], feature_names=data["names"])
    return m, {"formulas": [str(f) for f in m.formulas_], "latex": m.latex()}


_SEQKANS = ("seqkan", "seqkan_wide")


class _Unavailable(Exception):
    pass


_BUILDERS: dict[str, Callable] = {
    "seqkan": _seqkan("standard"), "seqkan_wide": _seqkan("wide"),
    "rnn": _recurrent("RNNClassifier"), "lstm": _recurrent("LSTMClassifier"),
    "tkan": _recurrent("TKANClassifier"), "seqkan_official": _official, "operon": _operon,
}


def _metrics(Y: np.ndarray, P: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for j, lab in enumerate(pendulum.LABELS):
        y = Y[:, j].astype(bool)
        ok = y.any() and not y.all() and np.isfinite(P[:, j]).all()
        out[lab] = {"roc_auc": float(roc_auc_score(y, P[:, j])) if ok else float("nan"),
                    "pr_auc": float(average_precision_score(y, P[:, j])) if ok
                    else float("nan")}
    return out


def _run_one(method: str, cfg: dict, seed: int, inputs: dict) -> tuple[dict, dict]:
    """One training run; ``inputs`` holds the raw windows and, when the study
    scales them, the scaled ones (``inputs["scaled"]``) for every method but
    the seqKANs, which scale inside the model."""
    data = inputs["scaled"] if "scaled" in inputs and method not in _SEQKANS else inputs["raw"]
    t0 = time.perf_counter()
    try:
        model, info = _BUILDERS[method](cfg[method], cfg["train"], seed, data)
    except _Unavailable as exc:
        return {"method": method, "seed": seed, "status": "unavailable",
                "error": str(exc), "seconds": 0.0}, {}
    train_s = time.perf_counter() - t0
    arrays = info.pop("_arrays", {})
    attrs = {"method": method, "seed": seed, "status": "ok", "error": "",
             "train_seconds": train_s, "hyperparameters": cfg[method] | {
                 k: v for k, v in cfg["train"].items() if method not in (
                     "operon", "seqkan_official")}}
    metrics = {}
    for split in TEST_SPLITS:
        P = np.asarray(model.predict_proba(data[split][0]), dtype=float)
        metrics[split] = _metrics(data[split][1], P)
        arrays[f"proba.{split}"] = P.astype(np.float32)
    attrs["metrics"] = metrics
    attrs["seconds"] = time.perf_counter() - t0
    attrs |= info
    return attrs, arrays


# ---------------------------------------------------------------- analysis
def load_seqkan(run: dict):
    """Rebuild a trained seqKAN from a stored run (see :func:`_seqkan`)."""
    from ..kan.seqkan import SeqKAN
    cfg = dict(run["model_config"])
    m = SeqKAN(**cfg)
    state = {k[len("state."):]: torch.as_tensor(v) for k, v in run["arrays"].items()
             if k.startswith("state.")}
    m.load_state_dict(state)
    return m


def _analysis(run: dict, ds: SequenceDataset, cfg: dict) -> tuple[dict, dict]:
    """The hidden-state analysis of a stored seqKAN run: its hidden state against
    L and L_dot, its symbolic rules (the copy and the refined ones, see
    :func:`~kandiscover.symbolic.seqrules.refine_rules`) and their AUCs."""
    from ..compare.hidden import hidden_state_analysis
    start = time.perf_counter()
    model = load_seqkan(run)
    length, stride = window_args(cfg)
    win = dict(window=length, stride=stride)
    attrs: dict[str, Any] = {"run": run["key"], "status": "ok"}
    first = hidden_state_analysis(model, ds, "test_extrap", **win)     # the copy
    try:
        first = hidden_state_analysis(model, ds, "test_extrap", symbolic=first.rules,
                                      refined=True, **win)
    except _RUN_ERRORS as exc:          # keep the copy's analysis without refined rules
        attrs["refined_error"] = f"{type(exc).__name__}: {exc}"
    for name, rules in (("rules", first.rules), ("refined", first.refined)):
        if rules is not None:
            attrs[name] = {
                "update": [str(e) for e in rules.update],
                "output": [str(e) for e in rules.output],
                "update_latex": rules.update_latex(), "output_latex": rules.output_latex(),
                "r2": rules.r2}
    if first.refined is not None:
        h = first.refined.history
        attrs["refined"] |= {"kept_copy": first.refined.kept_copy,
                             "epochs_run": len(h.train_loss), "best_epoch": (
            -1 if h.best_step is None else int(h.best_step)), "best_val_loss": (
            float("nan") if h.best_step is None else float(h.val_loss[h.best_step]))}
    arrays: dict[str, np.ndarray] = {}
    for split in TEST_SPLITS:
        reuse = first.refined if first.refined is not None else False
        a = first if split == "test_extrap" else hidden_state_analysis(
            model, ds, split, symbolic=first.rules, refined=reuse, **win)
        attrs[split] = {"spearman": {k: v.tolist() for k, v in a.spearman.items()},
                        "labels": a.labels, "best_unit": list(a.best_unit())}
        arrays[f"hidden_last.{split}"] = a.hidden[:, -1].astype(np.float32)
        arrays[f"sequence.{split}"] = a.sequence
        arrays[f"last_step.{split}"] = a.last_step
        for name in ("symbolic", "refined"):
            if name in a.decisions:
                arrays[f"proba_{name}.{split}"] = torch.sigmoid(
                    torch.as_tensor(a.decisions[name])).numpy().astype(np.float32)
    attrs["seconds"] = time.perf_counter() - start
    return attrs, arrays


def _guarded_analysis(run: dict, cfg: dict, ds: SequenceDataset | None = None
                      ) -> tuple[dict, dict]:
    """:func:`_analysis`, a failure becoming a failed entry; ``ds`` defaults to
    the dataset a worker process was started with."""
    try:
        return _analysis(run, worker_shared() if ds is None else ds, cfg)
    except _RUN_ERRORS as exc:
        return _failed(exc, run=run["key"]), {}


def _analysed(store: ResultStore, key: str) -> bool:
    """Whether run ``key`` has a finished analysis with refined rules (a failed
    one, one whose refinement failed, or one stored before the rules were
    refined, is done again)."""
    name = f"analysis-{key}"
    if not store.has(name, group="extra"):
        return False
    an = store.get(name, group="extra")
    return an["status"] == "ok" and "refined" in an




# ------------------------------------------------------------------- study
_SPLITS = ("train", "val", *TEST_SPLITS)


def window_args(cfg: dict) -> tuple[int, int]:
    """(length, stride) of a study configuration's windows (the fixed 50, 5 of
    results files written before the setting existed)."""
    win = cfg.get("windows", {})
    return int(win.get("length", pendulum.WINDOW)), int(win.get("stride", pendulum.STRIDE))


def window_scaling(cfg: dict) -> str | bool:
    """The per-window scaling of a study configuration: False, ``"rms"`` (also
    for ``true``, as written before the oscillator scaling existed) or
    ``"oscillator"``."""
    scale = cfg.get("windows", {}).get("scale", False)
    return "rms" if scale is True else scale


def _window_data(ds: SequenceDataset, cfg: dict) -> dict[str, Any]:
    """Windows of every split as (inputs, labels), plus the training and
    validation arrays under X, Y, Xv, Yv, the per-step input ``names``, the
    scaling ``scale`` (for the seqKANs, which scale inside the model) and, for
    the oscillator scaling, the sampling interval ``dt``."""
    scale = window_scaling(cfg)
    dt = 1.0 / float(ds.attrs["sample_rate_hz"]) if scale == "oscillator" else None
    data: dict[str, Any] = {"scale": scale, "dt": dt, "names": ["theta", "omega"]}
    for split in _SPLITS:
        w = ds.windows(split, *window_args(cfg))
        data[split] = (w.inputs, w.labels.astype(np.float64))
    return _with_fit_arrays(data)


#: the scaled inputs' names (for Operon): theta_s and omega_s are theta and
#: omega over theta_rms and omega_rms, or over the swing amplitude theta_amp
#: (omega also over the angular frequency)
_SCALED_NAMES = {"rms": ["theta_s", "omega_s", "log_theta_rms", "log_omega_rms"],
                 "oscillator": ["theta_s", "omega_s", "log_theta_amp"]}


def _scaled(raw: dict[str, Any]) -> dict[str, Any]:
    """:func:`_window_data` with every split's inputs per-window scaled."""
    from ..kan.seqkan import scale_windows
    data = raw | {split: (scale_windows(raw[split][0], raw["scale"], raw["dt"]), raw[split][1])
                  for split in _SPLITS}
    data["names"] = _SCALED_NAMES[raw["scale"]]
    return _with_fit_arrays(data)


def _with_fit_arrays(data: dict[str, Any]) -> dict[str, Any]:
    return data | {"X": data["train"][0], "Y": data["train"][1], "Xv": data["val"][0],
                   "Yv": data["val"][1]}


def run_pendulum_study(out: str | os.PathLike = "studies/pendulum", *, seeds: int = 3,
                       quick: bool = False, methods: Sequence[str] | None = None,
                       dataset: str | os.PathLike | SequenceDataset | None = None,
                       report: bool = True, verbose: bool = True, workers: int = 1,
                       settings: dict | None = None, rerun_changed: bool = False,
                       timeout: float | None = RUN_TIMEOUT) -> ResultStore:
    """Run (or resume) the pendulum study; return its :class:`ResultStore`.

    Parameters
    ----------
    out : folder for results.h5, the dataset (pendulum.h5, unless ``dataset``
        is given), report.md and the figures
    seeds : number of seeds (0, 1, ..., seeds - 1) per method
    quick : a reduced study that runs in a few minutes (for tests and a first look)
    methods : subset of :data:`METHODS` (default: all)
    dataset : a pendulum dataset (or its HDF5 file) instead of generating one
    report : write report.md and the figures at the end
    verbose : progress bars
    workers : training runs at once, each in its own (spawned) process on one
        thread; results.h5 is written by this process as runs finish.  The
        neural models' results do not depend on it; Operon's time budget makes
        its runs depend on the machine's load anyway.  Ctrl-C or SIGTERM stops
        the study and its worker processes; finished runs stay stored
    settings : ``{section: {key: value}}`` replacing the study's settings
        (:func:`study_config`).  They are part of the study's definition: a
        results.h5 made with another dataset, windows or ``train`` section is
        refused (use another ``out``); one whose runs of a method in
        ``methods`` were made with other settings of that method's section is
        refused unless ``rerun_changed``
    rerun_changed : replace the stored runs (and analyses) of the methods in
        ``methods`` whose settings changed, keeping every other run: a change
        to one method costs its runs only
    timeout : seconds a training run, or a hidden-state analysis, may take in
        a worker process (``workers`` > 1) before it is killed and recorded as
        failed, to be retried by the next resume (None: no limit).  With
        ``workers=1`` they run in this process, without a time limit
    """
    seeds = check_int(seeds, "seeds", 1)
    workers = check_int(workers, "workers", 1)
    if timeout is not None:
        timeout = check_positive(timeout, "timeout")
    methods = list(METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InputError(f"unknown method(s) {unknown or '(none given)'}; the methods are "
                         f"{', '.join(METHODS)}")
    cfg = study_config(quick, settings)
    out = study_folder(out)
    with torch_threads(1), sigterm_interrupts():
        return _run(out, seeds, cfg, methods, dataset, report, verbose, workers, timeout,
                    bool(rerun_changed))


#: what a run (or a hidden-state analysis) may raise that makes it a failed entry
_RUN_ERRORS = (KandiscoverError, RuntimeError, ValueError, ArithmeticError)


def _failed(exc: BaseException, **ids: Any) -> dict:
    """A failed entry: ``ids`` (method and seed of a run, or the run key of an
    analysis) with the error."""
    return {**ids, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _guarded_run(method: str, cfg: dict, seed: int, inputs: dict | None = None
                 ) -> tuple[dict, dict]:
    """:func:`_run_one`, a bad setting or a failed fit becoming a failed run;
    ``inputs`` default to those a worker process was started with."""
    try:
        attrs, arrays = _run_one(method, cfg, seed,
                                 worker_shared() if inputs is None else inputs)
    except _RUN_ERRORS as exc:
        attrs, arrays = _failed(exc, method=method, seed=seed, seconds=0.0), {}
    attrs["machine"] = _machine()
    return attrs, arrays


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> str:
    """Where a run ran: host, CPUs, their model and the kernels torch picked
    (AVX2, AVX512, ...), torch's and numpy's versions and torch's threads.
    Training amplifies last-bit differences, and these set the last bits, so
    two machines that differ here give runs that differ in their digits."""
    return (f"{platform.node()} {os.cpu_count()} CPUs ({_cpu_model()}, "
            f"{torch.backends.cpu.get_cpu_capability()}) torch {torch.__version__} "
            f"numpy {np.__version__} {torch.get_num_threads()} threads")


def _runs(todo: list[tuple[str, int]], cfg: dict, inputs: dict, workers: int,
          timeout: float | None = None):
    """Yield ``(method, seed, attrs, arrays)`` of the training runs ``todo``
    (method, seed) as they finish, ``workers`` at a time."""
    jobs = [(m, cfg, s) for m, s in todo]
    for (method, _, seed), (attrs, arrays) in pooled(
            _guarded_run, jobs, inputs, workers,
            lambda job, exc, sec: (_failed(exc, method=job[0], seed=job[2], seconds=sec), {}),
            timeout):
        yield method, seed, attrs, arrays


def _store(path: Path, definition: dict, methods: list[str], rerun_changed: bool,
           verbose: bool) -> ResultStore:
    """The study's results file (new, or the stored one when its definition
    agrees).  The definition's method sections say what each method's stored
    runs were made with: a method not run now keeps its stored section, one
    run now whose section changed has its runs (and analyses) replaced when
    ``rerun_changed``, and is refused otherwise."""
    if not path.exists():
        return ResultStore(path, "pendulum", definition)
    old = ResultStore.open(path).definition
    old_cfg = old.get("config") if isinstance(old, dict) else None
    stored = {m: old_cfg[m] for m in METHODS if isinstance(old_cfg, dict) and m in old_cfg}
    cfg = definition["config"]
    common = {k: v for k, v in cfg.items() if k not in METHODS} | stored
    # refuses another study, dataset, windows or train section
    store = ResultStore(path, "pendulum", definition | {"config": common})
    changed = [m for m in methods if differences(stored.get(m), cfg[m])]
    if not changed:
        return store
    runs = {m: [r for r in store.runs(arrays=False) if r["method"] == m] for m in changed}
    finished = [m for m in changed if any(r["status"] == "ok" for r in runs[m])]
    if finished and not rerun_changed:
        what = ", ".join(d for m in finished for d in differences(stored.get(m), cfg[m], f"{m}."))
        raise InputError(f"{path} holds runs of {', '.join(finished)} made with other "
                         f"settings (differ in: {what}); pass rerun_changed=True "
                         "(--rerun-changed) to replace those methods' runs and keep the "
                         "others, or use another --out folder")
    keys = [r["key"] for m in changed for r in runs[m]]
    if finished and verbose:
        tqdm.write(f"settings of {', '.join(finished)} changed: replacing their "
                   f"{len(keys)} stored run(s)")
    store.redefine(definition | {"config": common | {m: cfg[m] for m in changed}},
                   drop={"runs": keys, "extra": [f"analysis-{k}" for k in keys]})
    return store


def _run(out: Path, seeds: int, cfg: dict, methods: list[str],
         dataset: str | os.PathLike | SequenceDataset | None, report: bool,
         verbose: bool, workers: int, timeout: float | None,
         rerun_changed: bool = False) -> ResultStore:
    ds = _dataset(out, cfg, dataset)
    store = _store(out / "results.h5", {"config": cfg, "dataset": _dataset_identity(ds)},
                   methods, rerun_changed, verbose)
    inputs = {"raw": _window_data(ds, cfg)}
    if inputs["raw"]["scale"]:
        inputs["scaled"] = _scaled(inputs["raw"])

    done = {r["key"] for r in store.runs(arrays=False) if r["status"] == "ok"}
    todo = [(m, s) for s in range(seeds) for m in methods if f"{m}-seed{s}" not in done]
    n_train = min(workers, len(todo)) or 1
    if verbose and any(m == "seqkan_official" for m, _ in todo):
        from ..compare.seqkan_official import available
        ok, reason = available()
        if not ok:      # say so before the hour of training, not after it
            tqdm.write(f"note: seqkan_official's runs will be recorded as unavailable: "
                       f"{reason}; a rerun after installing it runs them")
    bar = tqdm(total=len(todo), desc="pendulum study", disable=not verbose, unit="run")
    # workers > 1 keeps the runs in worker processes (and under the timeout)
    # even when fewer runs than workers are left
    for method, seed, attrs, arrays in _runs(todo, cfg, inputs, workers, timeout):
        key = f"{method}-seed{seed}"
        attrs["workers"] = n_train
        store.add(key, attrs, arrays)
        if method in _SEQKANS:      # the analysis of the model now replaced
            store.remove([f"analysis-{key}"], group="extra")
        bar.set_postfix_str(key)
        bar.update()
        if attrs["status"] != "ok" and verbose:
            tqdm.write(f"{key}: {attrs['status']}: {attrs['error']}")
    bar.close()
    jobs = [(r, store.definition["config"]) for r in store.runs()
            if r["method"] in _SEQKANS and r["status"] == "ok" and not _analysed(store, r["key"])]
    n_an = min(workers, len(jobs)) or 1
    bar = tqdm(total=len(jobs), desc="hidden-state analysis", disable=not verbose, unit="run")
    for (run, _), (attrs, arrays) in pooled(
            _guarded_analysis, jobs, ds, workers,
            lambda job, exc, sec: (_failed(exc, run=job[0]["key"], seconds=sec), {}), timeout):
        attrs["workers"] = n_an
        store.add(f"analysis-{run['key']}", attrs, arrays, group="extra")
        bar.update()
        if attrs["status"] != "ok" and verbose:
            tqdm.write(f"hidden-state analysis of {run['key']} failed: {attrs['error']}")
    bar.close()
    if report:
        from .pendulum_report import write_report
        write_report(store, ds, out)
    return store

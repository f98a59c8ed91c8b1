"""The ``kandiscover`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import KandiscoverError


def _cmd_demo(args: argparse.Namespace) -> int:
    from .study.demo import run
    run(args.out, seed=args.seed, verbose=not args.quiet)
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from ._validation import check_positive
    from .data.table import read_table
    from .study.discover import discover

    out = _writable(args.json, (".json",), "--json") if args.json else None
    if args.time_budget is not None:      # fail before reading the data
        check_positive(args.time_budget, "--time-budget")
    X, y, names = read_table(args.data, args.target)
    if not args.quiet:
        print(f"{args.data}: {len(y)} rows; explaining {args.target!r} by "
              f"{', '.join(names)}", flush=True)
    result = discover(X, y, names, target=args.target, time_budget=args.time_budget,
                      seed=args.seed, verbose=not args.quiet)
    print(result.summary())
    if out is not None:
        result.write_json(out)
        fit_png = result.plot(out.with_suffix(".png"))
        from .plot import plot
        net_png = out.with_name(out.stem + "_network.png")
        plot(result.regressor.model_, net_png, X=result.X_test, in_vars=names,
             out_vars=[args.target])
        print(f"wrote {out}, {fit_png} and {net_png}")
    return 0


def _names_arg(text: str | None, what: str) -> list[str] | None:
    from .errors import InputError
    if text is None:
        return None
    names = [v.strip() for v in text.split(",")]
    if not all(names):
        raise InputError(f"{what} must be comma-separated names such as x,y; got {text!r}")
    return names


def _ranges_arg(items: list[str] | None) -> dict | None:
    from .errors import InputError
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, rest = item.partition("=")
        lo, sep2, hi = rest.partition(":")
        try:
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            sep = sep2 = ""
        if not (sep and sep2 and name.strip()):
            raise InputError(f"--range must look like NAME=LOW:HIGH (e.g. x=0:1), got {item!r}")
    return out


def _writable(path, suffixes: tuple[str, ...], what: str):
    from pathlib import Path
    from .errors import InputError
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{what} {path} must end in {' or '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{what} {path}: folder {folder} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a file name")
    return path


def _cmd_compile(args: argparse.Namespace) -> int:
    from .data.store import save
    from .symbolic.compiler import compile_formula
    from .symbolic.export import to_latex

    out = _writable(args.out, (".h5", ".hdf5"), "--out")
    png = _writable(args.plot, (".png", ".svg", ".pdf"), "--plot") if args.plot else None
    variables = _names_arg(args.vars, "--vars")
    model = compile_formula(args.formula, variables, ranges=_ranges_arg(args.range))
    names = variables or [s.name for s in sorted(model.formula_.free_symbols,
                                                  key=lambda s: s.name)]
    save(model, out)
    print(f"{model.formula_}  ->  KAN {model.width_spec}, {model.n_edges()} edges")
    print(f"LaTeX: {to_latex(model.formula_)}")
    print(f"wrote {out}")
    if png is not None:
        from .plot import plot
        plot(model, png, in_vars=names, title=None)
        print(f"wrote {png}")
    return 0


def _load_kan(path: str, command: str):
    """The KAN in model file ``path``; a SeqKAN file is refused, naming what reads it."""
    from .data.store import load
    from .errors import InputError
    from .kan.seqkan import SeqKAN
    model = load(path)
    if isinstance(model, SeqKAN):
        raise InputError(f"{path} holds a SeqKAN; '{command}' reads a KAN. Its rules come "
                         "from kandiscover.symbolify_seqkan(model, X), its maps are "
                         "model.phi_h and model.phi_o (kandiscover.plot(model.phi_h, ...))")
    return model


def _cmd_extract(args: argparse.Namespace) -> int:
    from .errors import InputError
    from .symbolic.export import to_latex
    from .symbolic.expression import to_sympy

    model = _load_kan(args.model, "extract")
    variables = _names_arg(args.vars, "--vars")
    if variables is not None and len(variables) != model.n_inputs:
        raise InputError(f"--vars names {len(variables)} variables but the model has "
                         f"{model.n_inputs} inputs")
    spline = [(l, i, j) for l, layer in enumerate(model.layers)
              for i, j in zip(*layer.mask.nonzero(as_tuple=True))
              if (int(i), int(j)) not in layer.symbolic]
    if spline:
        raise InputError(f"{args.model} still has {len(spline)} spline edges; make them "
                         "symbolic first (kandiscover.auto_symbolic(model, X, y)) and save it")
    expr = to_sympy(model, variables)
    print(to_latex(expr, names=None) if args.latex else expr)
    return 0


def _cmd_dataset_import(args: argparse.Namespace) -> int:
    from .data.dataset import TabularDataset, describe_dataset, save_dataset
    from .data.table import read_table

    out = _writable(args.out, (".h5", ".hdf5"), "--out")
    X, y, names = read_table(args.table, args.target)
    ds = TabularDataset(X, y, names, [args.target], source=str(args.table))
    save_dataset(ds, out)
    print(describe_dataset(ds))
    print(f"wrote {out}")
    return 0


def _cmd_dataset_info(args: argparse.Namespace) -> int:
    from .data.dataset import describe_dataset, load_dataset
    print(describe_dataset(load_dataset(args.file)))
    return 0


def _cmd_dataset_feynman(args: argparse.Namespace) -> int:
    from .data import feynman
    from .data.dataset import describe_dataset, save_dataset

    out = _writable(args.out, (".h5", ".hdf5"), "--out")
    ds = feynman.sample(args.name, n=args.n, noise=args.noise, seed=args.seed)
    save_dataset(ds, out)
    print(describe_dataset(ds))
    print(f"wrote {out}")
    return 0


def _cmd_dataset_pendulum(args: argparse.Namespace) -> int:
    import time

    from .data.dataset import describe_dataset, save_dataset
    from .data.pendulum import make_pendulum

    out = _writable(args.out, (".h5", ".hdf5"), "--out")
    t = time.perf_counter()
    ds = make_pendulum(seed=args.seed)
    save_dataset(ds, out)
    print(describe_dataset(ds))
    print(f"wrote {out} in {time.perf_counter() - t:.1f} s")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .data.store import load
    from .kan.seqkan import SeqKAN
    model = load(args.model)
    if isinstance(model, SeqKAN):
        print(f"SeqKAN({model.extra_repr()})")
        maps = [("Phi_h (update rule)", model.phi_h), ("Phi_o (output rule)", model.phi_o)]
    else:
        maps = [("", model)]
    for title, kan in maps:
        if title:
            print(title + ":")
        print(kan.describe())
        for l, layer in enumerate(kan.layers):
            for (i, j), edge in sorted(layer.symbolic.items()):
                a, b, c, d = layer.sym_params[i, j].tolist()
                print(f"  symbolic edge ({l}, {i}, {j}): {c:.4g}*{edge.name}({a:.4g}*x"
                      f"+{b:.4g})+{d:.4g}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot
    _writable(args.out, (".png", ".svg", ".pdf"), "--out")
    plot(_load_kan(args.model, "plot"), args.out)
    print(f"wrote {args.out}")
    return 0


_PENDULUM_SETTINGS = '{"train": {"epochs": 60}, "seqkan": {"output_width": [4, 2]}}'


def _timeout_arg(value: float | None) -> dict[str, float | None]:
    """``--timeout`` as keyword arguments: none given keeps the default, 0 is no limit."""
    if value is None:
        return {}
    return {"timeout": None if value == 0 else value}


def _cmd_study_pendulum(args: argparse.Namespace) -> int:
    import time

    from .study.pendulum import run_pendulum_study

    methods = None if args.methods is None else [m.strip() for m in args.methods.split(",")
                                                 if m.strip()]
    t = time.perf_counter()
    settings = _settings_arg(args.settings, _PENDULUM_SETTINGS)
    store = run_pendulum_study(args.out, seeds=args.seeds, quick=args.quick, methods=methods,
                               dataset=args.dataset, verbose=not args.quiet,
                               workers=args.workers, settings=settings,
                               rerun_changed=args.rerun_changed, **_timeout_arg(args.timeout))
    runs = store.runs()
    bad = [r for r in runs if r["status"] != "ok"]
    print(f"{len(runs) - len(bad)} runs ok, {len(bad)} not "
          f"({', '.join(r['key'] + ': ' + r['status'] for r in bad) or 'none'}); "
          f"{time.perf_counter() - t:.0f} s")
    print(f"wrote {store.path} and {Path(args.out) / 'report.md'}")
    return 0


def _settings_arg(text: str | None, example: str) -> dict | None:
    """The JSON of a ``--settings`` option (None when not given)."""
    if not text:
        return None
    import json

    from .errors import InputError
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--settings must be JSON such as '{example}' ({exc})") from None


def _study_common(args: argparse.Namespace) -> dict:
    from .errors import InputError

    def floats(text: str, what: str) -> list[float]:
        try:
            return [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"{what} must be comma-separated numbers such as 0,0.01; "
                             f"got {text!r}") from None

    settings = _settings_arg(args.settings, '{"operon": {"generations": 100}}')
    methods = _names_arg(args.methods, "--methods")
    return dict(methods=methods, noise=floats(args.noise, "--noise"), seeds=args.seeds,
                budget=args.budget, out=args.out, workers=args.workers,
                scheduler=args.scheduler, dask_workers=args.dask_workers,
                settings=settings, verbose=not args.quiet)


def _study_summary(store, out) -> int:
    runs = store.runs()
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    solved = sum(1 for r in runs if r.get("symbolic_solution"))
    print(f"{len(runs)} tasks: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f"; {solved} symbolic solutions; results in {store.path}")
    return 0


def _cmd_study_feynman(args: argparse.Namespace) -> int:
    from .study.feynman_study import run_feynman_study

    common = _study_common(args)
    store = run_feynman_study(_names_arg(args.equations, "--equations"), all=args.all,
                              **common)
    return _study_summary(store, args.out)


def _cmd_study_run(args: argparse.Namespace) -> int:
    from .study.feynman_study import run_folder_study

    common = _study_common(args)
    store = run_folder_study(args.datasets_dir, **common)
    return _study_summary(store, args.out)


def _cmd_study_report(args: argparse.Namespace) -> int:
    from .errors import InputError
    from .study.report import write_report
    from .study.results import ResultStore
    from .study.runner import STUDY_NAME

    store = ResultStore.open(args.folder)
    if store.study != STUDY_NAME:
        raise InputError(f"{store.path} holds a {store.study!r} study, not a recovery "
                         "study; its own command writes its report")
    out = store.path.parent
    written = write_report(store, out)
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


def _study_options(sp: argparse.ArgumentParser, out: str) -> None:
    sp.add_argument("--methods", default="kan,operon",
                    help="comma-separated methods: kan, operon, pysr (default kan,operon)")
    sp.add_argument("--noise", default="0", help="target noise levels, e.g. 0,0.01 (default 0)")
    sp.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    sp.add_argument("--budget", type=float, default=60.0,
                    help="seconds of search per task (default 60)")
    sp.add_argument("--out", default=out, help=f"output folder (default {out})")
    sp.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    sp.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="run on an existing Dask cluster")
    sp.add_argument("--dask-workers", type=int, default=None, metavar="N",
                    help="start a local Dask cluster with N one-thread workers")
    sp.add_argument("--settings", default=None, metavar="JSON",
                    help="per-method keyword arguments, e.g. "
                         "'{\"operon\": {\"generations\": 100}}' (part of the study "
                         "definition)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kandiscover",
                                description="Symbolic discovery with Kolmogorov-Arnold Networks")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="discover three known laws from samples and report them")
    d.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_cmd_demo)
    c = sub.add_parser("discover", help="find a formula for one column of a CSV or HDF5 table",
                       description="Find a formula for column TARGET of DATA as a function "
                                   "of the other columns; print it with its LaTeX, test R^2 "
                                   "and complexity.")
    c.add_argument("data", help="a .csv file with a header row, or an .h5/.hdf5 table")
    c.add_argument("--target", required=True, help="the column to explain")
    c.add_argument("--time-budget", type=float, default=None, metavar="S",
                   help="seconds after which no new candidate structure is started")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", metavar="OUT", default=None,
                   help="write the result as JSON to OUT, a parity plot to OUT.png "
                        "and the network to OUT_network.png")
    c.add_argument("--quiet", action="store_true", help="print only the result")
    c.set_defaults(func=_cmd_discover)
    cp = sub.add_parser("compile", help="compile a formula into a KAN (the kanpiler)",
                        description="Build a KAN that computes FORMULA exactly and save it.")
    cp.add_argument("formula", help='e.g. "G*m1*m2/r**2" (read safely, never evaluated)')
    cp.add_argument("--vars", help="input names in column order, e.g. x,y "
                                   "(default: the formula's names, sorted)")
    cp.add_argument("--out", required=True, help="the model file (.h5)")
    cp.add_argument("--plot", help="also draw the network (.png, .svg or .pdf)")
    cp.add_argument("--range", action="append", metavar="NAME=LOW:HIGH",
                    help="where a variable lives (sets the spline grids); repeatable")
    cp.set_defaults(func=_cmd_compile)
    ex = sub.add_parser("extract", help="read a saved model back as a formula")
    ex.add_argument("model")
    ex.add_argument("--vars", help="input names, e.g. x,y (default x0, x1, ...)")
    ex.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    ex.set_defaults(func=_cmd_extract)
    ds = sub.add_parser("dataset", help="make, convert and describe dataset files (HDF5)")
    dsub = ds.add_subparsers(dest="dataset_command", required=True)
    di = dsub.add_parser("import", help="convert a CSV table into a dataset file")
    di.add_argument("table", help="a .csv file with a header row")
    di.add_argument("--target", required=True, help="the target column")
    di.add_argument("--out", required=True, help="the dataset file (.h5)")
    di.set_defaults(func=_cmd_dataset_import)
    dn = dsub.add_parser("info", help="summarise a dataset file")
    dn.add_argument("file")
    dn.set_defaults(func=_cmd_dataset_info)
    df = dsub.add_parser("feynman", help="sample a Feynman equation (SRBench protocol)")
    df.add_argument("name", help="e.g. I.6.2a")
    df.add_argument("--n", type=int, default=1000, help="number of samples (default 1000)")
    df.add_argument("--noise", type=float, default=0.0,
                    help="target noise as a fraction of the target's RMS (default 0)")
    df.add_argument("--seed", type=int, default=0)
    df.add_argument("--out", required=True)
    df.set_defaults(func=_cmd_dataset_feynman)
    dp = dsub.add_parser("pendulum", help="simulate the variable-length pendulum dataset")
    dp.add_argument("--out", required=True)
    dp.add_argument("--seed", type=int, default=0)
    dp.set_defaults(func=_cmd_dataset_pendulum)
    st = sub.add_parser("study", help="run a study (resumable; results in HDF5, report.md)")
    ssub = st.add_subparsers(dest="study_command", required=True)
    sp = ssub.add_parser("pendulum", help="the hidden-variable pendulum study: seqKAN against "
                         "RNN, LSTM, TKAN, seqkan 0.8.1 and Operon")
    sp.add_argument("--seeds", type=int, default=3, help="seeds per method (default 3)")
    sp.add_argument("--quick", action="store_true", help="a reduced study of a few minutes")
    sp.add_argument("--out", default="studies/pendulum", help="output folder")
    sp.add_argument("--dataset", default=None,
                    help="a pendulum dataset file (default: generate OUT/pendulum.h5)")
    sp.add_argument("--methods", default=None,
                    help="comma-separated subset of: seqkan, seqkan_wide, rnn, lstm, tkan, "
                         "seqkan_official, operon")
    sp.add_argument("--workers", type=int, default=1,
                    help="training runs at once, each a process on one core (default 1)")
    sp.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                    help="with --workers 2 or more: kill a run or analysis after this "
                         "long and record it as failed (default 7200; 0: no limit)")
    sp.add_argument("--settings", default=None, metavar="JSON",
                    help="settings replacing the study's, per section (train or a method), "
                         f"e.g. '{_PENDULUM_SETTINGS}' (part of the study definition: "
                         "changing train needs a new --out, changing a method's section "
                         "needs --rerun-changed)")
    sp.add_argument("--rerun-changed", action="store_true",
                    help="replace the stored runs of the methods whose settings changed "
                         "(the other runs are kept)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    sp.set_defaults(func=_cmd_study_pendulum)
    sf = ssub.add_parser("feynman", help="physics-law recovery on Feynman equations: KAN, "
                         "Operon, PySR against the analytic formula (SRBench protocol)")
    grp = sf.add_mutually_exclusive_group()
    grp.add_argument("--equations", default=None, help="comma-separated names, e.g. "
                     "I.6.2a,I.12.1 (default: five quick ones)")
    grp.add_argument("--all", action="store_true", help="all 100 equations")
    _study_options(sf, "studies/feynman")
    sf.set_defaults(func=_cmd_study_feynman)
    sr = ssub.add_parser("run", help="the recovery study on a folder of dataset files "
                         "(.h5 with a formula attribute, or .csv)")
    sr.add_argument("datasets_dir", metavar="DATASETS_DIR")
    _study_options(sr, "studies/datasets")
    sr.set_defaults(func=_cmd_study_run)
    srep = ssub.add_parser("report", help="write report.md, report.tex and the figures of a "
                           "recovery study folder again from its results.h5 (no runs)")
    srep.add_argument("folder", metavar="FOLDER")
    srep.set_defaults(func=_cmd_study_report)
    i = sub.add_parser("info", help="describe a saved model")
    i.add_argument("model")
    i.set_defaults(func=_cmd_info)
    g = sub.add_parser("plot", help="draw a saved model (PNG, SVG or PDF)")
    g.add_argument("model")
    g.add_argument("--out", required=True)
    g.set_defaults(func=_cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KandiscoverError as exc:
        print(f"kandiscover: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kandiscover: interrupted (finished work is kept; rerun the command to "
              "resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``kandiscover`` command."""

from __future__ import annotations

import argparse
import sys

from .errors import KandiscoverError


def _cmd_demo(args: argparse.Namespace) -> int:
    from .study.demo import run
    run(args.out, seed=args.seed, verbose=not args.quiet)
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .data.table import read_table
    from .errors import InputError
    from .study.discover import discover

    out = Path(args.json) if args.json else None
    if out is not None:
        if out.is_dir():
            raise InputError(f"--json {out} is a folder; give a file name such as result.json")
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(f"--json {out}: folder {folder} does not exist")
    if args.time_budget is not None and not args.time_budget > 0:
        raise InputError(f"--time-budget must be a positive number of seconds, "
                         f"got {args.time_budget}")
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


def _cmd_info(args: argparse.Namespace) -> int:
    from .data.store import load
    model = load(args.model)
    print(model.describe())
    for l, layer in enumerate(model.layers):
        for (i, j), edge in sorted(layer.symbolic.items()):
            a, b, c, d = layer.sym_params[i, j].tolist()
            print(f"  symbolic edge ({l}, {i}, {j}): {c:.4g}*{edge.name}({a:.4g}*x+{b:.4g})"
                  f"+{d:.4g}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .data.store import load
    from .plot import plot
    plot(load(args.model), args.out)
    print(f"wrote {args.out}")
    return 0


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


if __name__ == "__main__":
    sys.exit(main())

"""The ``kandiscover`` command."""

from __future__ import annotations

import argparse
import sys

from .errors import KandiscoverError


def _cmd_demo(args: argparse.Namespace) -> int:
    from .study.demo import run
    run(args.out, seed=args.seed, verbose=not args.quiet)
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
    d = sub.add_parser("demo", help="learn exp(sin(pi x) + y^2), prune it, plot it")
    d.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_cmd_demo)
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

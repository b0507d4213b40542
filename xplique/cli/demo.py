"""`python -m xplique demo`: every attribution method on a small digits CNN.

The command only parses its options; the demo itself (training or loading the CNN, the
explanations, the PNG grid and the JSON summary) lives in :mod:`xplique.demo`, imported when
the command runs.
"""

import argparse

from xplique.cli.errors import positive_int


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the `demo` subcommand on `commands` (the parser's subparsers)."""
    parser = commands.add_parser(
        "demo",
        help="train (or load) a digits CNN and explain a few digits with every method",
        description="Train a small CNN on scikit-learn's digits (or load it from the cache), "
        "explain a few test digits with every attribution method, and write attributions.png "
        "(attributions-1.png, ... when split), one PNG per demo panel and summary.json. "
        "Exits with 1 if any method or panel fails.",
    )
    parser.add_argument("--out", default="xplique-demo",
                        help="output folder (default: %(default)s)")
    parser.add_argument(
        "--cache",
        default=None,
        help="model cache folder (default: $XPLIQUE_CACHE if set, else ~/.cache/xplique/demo)",
    )
    parser.add_argument(
        "--samples", type=positive_int, default=4, help="test digits to explain (default: 4)"
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=12, help="training epochs (default: 12)"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="NAME",
        help="explain with these methods only (default: every method)",
    )
    parser.set_defaults(run=run_demo)
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """`demo`: digits CNN, every method, a PNG grid and a JSON summary."""
    from xplique import demo

    return demo.run(
        out=args.out,
        cache=args.cache or demo.default_cache_dir(),
        samples=args.samples,
        epochs=args.epochs,
        methods=args.methods,
    )

"""Command line: `python -m xplique demo|explain|explain-dataset ...`.

`demo` trains (or loads from a cache) a small CNN on scikit-learn's digits and explains a few
of them with every attribution method (see :mod:`xplique.demo`). `explain` runs one method on
a saved Keras model and `.npy` inputs; `explain-dataset` runs one over a whole dataset, shard
by shard and resumably (see :mod:`xplique.runs`). User errors are printed as one line on
stderr (`xplique: error: ...`) with exit code 2, never a traceback; set `XPLIQUE_DEBUG=1` to
see the traceback instead.

Methods are discovered from `xplique.attributions.__all__`: every concrete subclass of
`BlackBoxExplainer` listed there is available, so new methods appear without editing this file.
`--help` does not import TensorFlow: the parser reads the method names from the source
(:func:`method_names`); the commands import what they need when they run.

Each subcommand parses and runs in its own module (:mod:`xplique.cli.demo`,
:mod:`xplique.cli.explain`, :mod:`xplique.cli.explain_dataset`), on the shared pieces of
:mod:`xplique.cli.errors` (exit codes, one-line errors), :mod:`xplique.cli.methods` (finding
the method and its parameters) and :mod:`xplique.cli.files` (loading models and arrays). This
module builds the parser and runs it (:func:`main`).
"""

import argparse
import os
import sys
from typing import Optional, Sequence

from xplique.cli import demo, explain, explain_dataset
from xplique.cli.demo import run_demo
from xplique.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, CliError, one_line
from xplique.cli.explain import MAX_PLOTTED, run_explain
from xplique.cli.explain_dataset import run_explain_dataset
from xplique.cli.files import load_array, load_model
from xplique.cli.methods import (
    available_methods,
    check_parameters,
    constructor_parameters,
    find_method,
    method_and_parameters,
    method_names,
    parse_param,
)


class _Parser(argparse.ArgumentParser):
    """Reports usage errors as one line, like every other error of the command line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m xplique`."""
    from xplique import __version__

    parser = _Parser(
        prog=f"python -m {PROG}",
        description="Explain Keras models from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo.add_parser(commands)
    explain.add_parser(commands)
    explain_dataset.add_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on `argv` (default: `sys.argv[1:]`); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except (CliError, ValueError, TypeError, OSError) as error:
        if os.environ.get("XPLIQUE_DEBUG"):
            raise
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE


__all__ = [
    "PROG", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "MAX_PLOTTED", "CliError", "one_line",
    "available_methods", "method_names", "find_method", "constructor_parameters",
    "check_parameters", "parse_param", "method_and_parameters", "load_model", "load_array",
    "run_demo", "run_explain", "run_explain_dataset", "build_parser", "main",
]

"""How the command line fails: exit codes, user errors and one-line messages.

Every user error is a :class:`CliError` (or a `ValueError`, `TypeError` or `OSError` raised by
the library), which :func:`xplique.cli.main` prints as one line, `xplique: error: ...`, with
exit code 2; argparse's usage errors are reported the same way (see `xplique.cli._Parser`).
"""

import argparse

PROG = "xplique"

#: Exit codes: success, a method failed in the demo, a user error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user error, reported as one line with exit code 2."""


def one_line(error: BaseException) -> str:
    """The message of `error` on a single line (Keras messages span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def positive_int(text: str) -> int:
    """Argument type of counts (`--samples`, `--batch-size`, ...): an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    return value

"""`python -m xplique explain`: one method on the inputs of a `.npy` file, for a saved model.

The explanations are saved as `.npy`; `--plot` also draws the first :data:`MAX_PLOTTED` of
them as a heatmap grid (with :func:`xplique.demo.save_grid`, imported only then).
"""

import argparse
from typing import Optional

from xplique.cli.errors import EXIT_OK, CliError, positive_int
from xplique.cli.files import load_array, load_model, make_parent
from xplique.cli.methods import method_and_parameters, method_names

#: Most samples drawn by `explain --plot` (a grid of thousands of rows helps nobody).
MAX_PLOTTED = 16


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the `explain` subcommand on `commands` (the parser's subparsers)."""
    parser = commands.add_parser(
        "explain",
        help="explain inputs of a saved Keras model with one method",
        description="Explain the inputs in a .npy file with one attribution method and save "
        "the explanations as .npy. Methods (--method, any case): "
        + ", ".join(method_names()) + ".",
    )
    parser.add_argument("--model", required=True, help="saved Keras model (.keras)")
    parser.add_argument("--inputs", required=True, help="inputs, a .npy array (N, ...)")
    parser.add_argument(
        "--targets",
        help="targets, a .npy array of class indices (N,) or one-hot (N, classes); "
        "default: the model's top class",
    )
    parser.add_argument(
        "--method", required=True, help="method name, any case (Saliency, integrated_gradients)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method parameter, repeatable; VALUE is a Python literal or a string "
        "(e.g. --param steps=16 --param output_layer=logits)",
    )
    parser.add_argument("--batch-size", type=positive_int, help="model evaluations per pass")
    parser.add_argument("--out", required=True, help="where to save the explanations (.npy)")
    parser.add_argument("--plot", help="also save a heatmap grid to this PNG")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="allow loading models that hold Python code (Lambda layers); trusted files only",
    )
    parser.set_defaults(run=run_explain)
    return parser


def run_explain(args: argparse.Namespace) -> int:
    """`explain`: one method, one model, inputs from a `.npy` file."""
    import numpy as np

    cls, params = method_and_parameters(args)
    inputs = load_array(args.inputs, "inputs").astype("float32")
    targets = None if args.targets is None else load_array(args.targets, "targets")
    if inputs.ndim < 2:
        raise CliError(f"inputs must be a batch (N, ...). Received shape {inputs.shape}")
    # (N,) class indices or one-hot (N, classes); masks or boxes for other operators.
    if targets is not None and (targets.ndim == 0 or len(targets) != len(inputs)):
        raise CliError(
            f"targets must have one row per input, e.g. class indices ({len(inputs)},) or "
            f"one-hot ({len(inputs)}, classes). Received shape {targets.shape}"
        )
    model = load_model(args.model, args.unsafe)
    explainer = cls(model, **params)
    explanations = np.asarray(explainer(inputs, targets))
    make_parent(args.out)
    np.save(args.out, explanations)
    print(f"{cls.__name__}: explanations {explanations.shape} saved to {args.out}")
    if args.plot:
        from xplique.demo import save_grid

        shown = min(len(inputs), MAX_PLOTTED)
        make_parent(args.plot)
        labels = _row_labels(model, inputs[:shown], None if targets is None else targets[:shown])
        paths = save_grid(args.plot, inputs[:shown], {cls.__name__: explanations[:shown]},
                          labels)
        note = f" (first {shown} of {len(inputs)})" if shown < len(inputs) else ""
        print(f"plot saved to {', '.join(paths)}{note}")
    return EXIT_OK


def _row_labels(model, inputs, targets) -> Optional[list]:
    """`target t, pred p` per row for a classifier (class-index or one-hot targets, `pred` the
    model's top class); None when the model's output is not one score vector per input."""
    import numpy as np

    outputs = np.asarray(model(inputs, training=False))
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return None
    predicted = np.argmax(outputs, axis=-1)
    if targets is None:
        return [f"pred {p}" for p in predicted]
    targets = np.asarray(targets)
    if targets.ndim == 2 and targets.shape[1] == outputs.shape[1]:
        targets = np.argmax(targets, axis=-1)
    if targets.ndim != 1:
        return [f"pred {p}" for p in predicted]
    return [f"target {t}, pred {p}" for t, p in zip(targets.astype(int), predicted)]

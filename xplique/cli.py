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
"""

import argparse
import ast
import inspect
import os
import re
import sys
from typing import Dict, Optional, Sequence

PROG = "xplique"

#: Exit codes: success, a method failed in the demo, a user error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Most samples drawn by `explain --plot` (a grid of thousands of rows helps nobody).
MAX_PLOTTED = 16


class CliError(Exception):
    """A user error, reported as one line with exit code 2."""


def one_line(error: BaseException) -> str:
    """The message of `error` on a single line (Keras messages span several)."""
    return " ".join(str(error).split()) or type(error).__name__


# --------------------------------------------------------------------------- methods


def available_methods() -> Dict[str, type]:
    """Every concrete attribution method exported by `xplique.attributions`, by class name."""
    from xplique import attributions

    methods = {}
    for name in attributions.__all__:
        candidate = getattr(attributions, name)
        if (
            inspect.isclass(candidate)
            and issubclass(candidate, attributions.BlackBoxExplainer)
            and not inspect.isabstract(candidate)
        ):
            methods[name] = candidate
    return methods


def _base_name(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_abstract_method(node: ast.AST) -> bool:
    return any(_base_name(decorator) == "abstractmethod"
               for decorator in getattr(node, "decorator_list", []))


def method_names() -> list:
    """The names :func:`available_methods` returns, read from the source of
    `xplique.attributions` without importing it (so without TensorFlow): `__all__` of its
    `__init__.py`, kept when the class derives from `BlackBoxExplainer` and leaves no abstract
    method unimplemented, as `inspect.isabstract` decides at run time."""
    package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attributions")
    classes = {}  # name -> (base names, methods defined, abstract methods declared)
    for folder, _, files in os.walk(package):
        for file_name in sorted(files):
            if not file_name.endswith(".py"):
                continue
            with open(os.path.join(folder, file_name), encoding="utf-8") as file:
                tree = ast.parse(file.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    body = [item for item in node.body
                            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
                    classes.setdefault(node.name, (
                        [name for name in map(_base_name, node.bases) if name],
                        {item.name for item in body},
                        {item.name for item in body if _is_abstract_method(item)},
                    ))

    def ancestry(name, seen=()):
        """(derives from BlackBoxExplainer, abstract methods left unimplemented)."""
        if name not in classes or name in seen:
            return name == "BlackBoxExplainer", set()
        bases, defined, declared = classes[name]
        explainer, abstract = name == "BlackBoxExplainer", set()
        for base in bases:
            base_explainer, base_abstract = ancestry(base, seen + (name,))
            explainer, abstract = explainer or base_explainer, abstract | base_abstract
        return explainer, (abstract - defined) | declared

    with open(os.path.join(package, "__init__.py"), encoding="utf-8") as file:
        tree = ast.parse(file.read())
    exported = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            exported = list(ast.literal_eval(node.value))
    names = []
    for name in exported:
        explainer, abstract = ancestry(name)
        if explainer and not abstract and name in classes:
            names.append(name)
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def find_method(name: str) -> type:
    """The method called `name`, matched case-insensitively (`integrated_gradients` works)."""
    methods = available_methods()
    matches = [cls for key, cls in methods.items() if _normalise(key) == _normalise(name)]
    if not matches:
        raise CliError(f"unknown method {name!r}; available methods: {', '.join(methods)}")
    return matches[0]


def constructor_parameters(cls: type) -> Dict[str, inspect.Parameter]:
    """The named constructor parameters of a method, `model` excluded."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name: parameter
        for name, parameter in inspect.signature(cls).parameters.items()
        if name != "model" and parameter.kind not in variadic
    }


def check_parameters(cls: type, params: Dict) -> None:
    """Raise a CliError naming the valid parameters if `params` has unknown names."""
    valid = constructor_parameters(cls)
    unknown = [name for name in params if name not in valid]
    if unknown:
        raise CliError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; valid "
            f"parameters: {', '.join(valid)}"
        )


def parse_param(text: str):
    """Split `k=v`; `v` is a Python literal (`3`, `0.5`, `(2, 2)`, `None`), else a string."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise CliError(f"--param expects NAME=VALUE. Received: {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return name, value


# --------------------------------------------------------------------------- files


def load_model(path: str, unsafe: bool = False):
    """Load a saved Keras model, safely unless `unsafe`."""
    import keras

    if not os.path.isfile(path):
        raise CliError(f"model file not found: {path}")
    try:
        return keras.models.load_model(path, safe_mode=not unsafe, compile=False)
    except Exception as error:  # a loader can fail in many ways on a user's file
        if not unsafe and "safe_mode" in str(error):
            raise CliError(
                f"model {path} needs unsafe deserialization (it holds Python code, e.g. a Lambda "
                "layer); pass --unsafe to load it if you trust the file"
            ) from error
        raise CliError(f"cannot load model {path}: {one_line(error)}") from error


def load_array(path: str, name: str):
    """Load a numeric `.npy` array (no pickles)."""
    import numpy as np

    if not os.path.isfile(path):
        raise CliError(f"{name} file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise CliError(f"cannot read {name} file {path} as a .npy array: {one_line(error)}")
    if not isinstance(array, np.ndarray) or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise CliError(f"{name} file {path} must hold numbers. Received dtype {array.dtype}")
    return array


def _make_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)


# --------------------------------------------------------------------------- commands


def method_and_parameters(args: argparse.Namespace):
    """The class named by `--method` and its checked constructor parameters (`--param k=v`
    and `--batch-size`), shared by `explain` and `explain-dataset`."""
    cls = find_method(args.method)
    params = dict(parse_param(text) for text in args.param)
    if args.batch_size is not None:
        if "batch_size" in params:
            raise CliError("give the batch size once, with --batch-size or --param batch_size=")
        params["batch_size"] = args.batch_size
    check_parameters(cls, params)
    return cls, params


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
    _make_parent(args.out)
    np.save(args.out, explanations)
    print(f"{cls.__name__}: explanations {explanations.shape} saved to {args.out}")
    if args.plot:
        from xplique.demo import save_grid

        shown = min(len(inputs), MAX_PLOTTED)
        _make_parent(args.plot)
        labels = _row_labels(model, inputs[:shown], None if targets is None else targets[:shown])
        paths = save_grid(args.plot, inputs[:shown], {cls.__name__: explanations[:shown]},
                          labels)
        note = f" (first {shown} of {len(inputs)})" if shown < len(inputs) else ""
        print(f"plot saved to {', '.join(paths)}{note}")
    return EXIT_OK


def run_explain_dataset(args: argparse.Namespace) -> int:
    """`explain-dataset`: one method over a dataset, shard by shard, resumable (xplique.runs)."""
    cls, params = method_and_parameters(args)
    if not os.path.exists(args.inputs):
        raise CliError(f"inputs not found: {args.inputs}")
    targets = None if args.targets is None else load_array(args.targets, "targets")
    if (args.num_workers is None) != (args.worker_index is None):
        raise CliError("give --num-workers and --worker-index together")
    if args.worker_index is not None and args.worker_index >= args.num_workers:
        raise CliError(f"--worker-index must lie in [0, {args.num_workers - 1}]. Received "
                       f"{args.worker_index}")
    model = load_model(args.model, args.unsafe)
    from xplique import runs

    manifest = runs.explain_dataset(
        cls(model, **params), args.inputs, targets, out_dir=args.out,
        shard_size=args.shard_size, metrics=args.metric, resume=args.resume,
        verbose=not args.quiet, num_workers=args.num_workers, worker_index=args.worker_index,
    )
    if not manifest.get("complete") or "explanations" not in manifest:
        worker, workers = manifest["worker"]
        print(f"{cls.__name__}: worker {worker} of {workers} finished its "
              f"{len(manifest['shards'])} shard(s) in {args.out}; the run is merged when every "
              "worker is done")
        return EXIT_OK
    metrics = ", ".join(f"{name}={value:.6g}" for name, value in manifest["metrics"].items())
    print(f"{cls.__name__}: explanations {tuple(manifest['explanations']['shape'])} in "
          f"{len(manifest['shards'])} shard(s) saved to "
          f"{os.path.join(args.out, manifest['explanations']['file'])}"
          + (f"; metrics: {metrics}" if metrics else ""))
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


# --------------------------------------------------------------------------- parsing


class _Parser(argparse.ArgumentParser):
    """Reports usage errors as one line, like every other error of the command line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m xplique`."""
    from xplique import __version__

    parser = _Parser(
        prog=f"python -m {PROG}",
        description="Explain Keras models from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train (or load) a digits CNN and explain a few digits with every method",
        description="Train a small CNN on scikit-learn's digits (or load it from the cache), "
        "explain a few test digits with every attribution method, and write attributions.png "
        "(attributions-1.png, ... when split), one PNG per demo panel and summary.json. "
        "Exits with 1 if any method or panel fails.",
    )
    demo.add_argument("--out", default="xplique-demo", help="output folder (default: %(default)s)")
    demo.add_argument(
        "--cache",
        default=None,
        help="model cache folder (default: $XPLIQUE_CACHE if set, else ~/.cache/xplique/demo)",
    )
    demo.add_argument(
        "--samples", type=_positive_int, default=4, help="test digits to explain (default: 4)"
    )
    demo.add_argument(
        "--epochs", type=_positive_int, default=12, help="training epochs (default: 12)"
    )
    demo.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="NAME",
        help="explain with these methods only (default: every method)",
    )
    demo.set_defaults(run=run_demo)

    explain = commands.add_parser(
        "explain",
        help="explain inputs of a saved Keras model with one method",
        description="Explain the inputs in a .npy file with one attribution method and save "
        "the explanations as .npy. Methods (--method, any case): "
        + ", ".join(method_names()) + ".",
    )
    explain.add_argument("--model", required=True, help="saved Keras model (.keras)")
    explain.add_argument("--inputs", required=True, help="inputs, a .npy array (N, ...)")
    explain.add_argument(
        "--targets",
        help="targets, a .npy array of class indices (N,) or one-hot (N, classes); "
        "default: the model's top class",
    )
    explain.add_argument(
        "--method", required=True, help="method name, any case (Saliency, integrated_gradients)"
    )
    explain.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method parameter, repeatable; VALUE is a Python literal or a string "
        "(e.g. --param steps=16 --param output_layer=logits)",
    )
    explain.add_argument("--batch-size", type=_positive_int, help="model evaluations per pass")
    explain.add_argument("--out", required=True, help="where to save the explanations (.npy)")
    explain.add_argument("--plot", help="also save a heatmap grid to this PNG")
    explain.add_argument(
        "--unsafe",
        action="store_true",
        help="allow loading models that hold Python code (Lambda layers); trusted files only",
    )
    explain.set_defaults(run=run_explain)

    dataset = commands.add_parser(
        "explain-dataset",
        help="explain a whole dataset shard by shard, resumably, with metrics (xplique.runs)",
        description="Explain a dataset with one attribution method, shard by shard, into a "
        "run folder (shards, a manifest with checksums, explanations.npy); a killed run "
        "resumes with --resume. Methods (--method, any case): " + ", ".join(method_names())
        + ".",
    )
    dataset.add_argument("--model", required=True, help="saved Keras model (.keras)")
    dataset.add_argument(
        "--inputs", required=True,
        help="a .npy array (memory-mapped), a folder of .npy/.png files (one input each, in "
        "name order) or a TFRecord file of serialised float32 tensors",
    )
    dataset.add_argument("--targets", help="targets, a .npy array of class indices (N,) or "
                         "one-hot (N, classes); default: the model's top class")
    dataset.add_argument("--method", required=True, help="method name, any case")
    dataset.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help="method parameter, repeatable (as for `explain`)")
    dataset.add_argument("--batch-size", type=_positive_int, help="model evaluations per pass")
    dataset.add_argument("--out", required=True, help="run folder")
    dataset.add_argument("--shard-size", type=_positive_int, default=256,
                         help="inputs per shard (default: %(default)s)")
    dataset.add_argument("--resume", action="store_true",
                         help="continue the run in --out (otherwise a folder holding a run is "
                         "refused)")
    dataset.add_argument("--metric", action="append", default=[], metavar="NAME",
                         help="metric evaluated per shard and aggregated, repeatable "
                         "(e.g. Deletion, Insertion, MuFidelity, Complexity)")
    dataset.add_argument("--num-workers", type=_positive_int,
                         help="number of workers sharing the shards (default: TF_CONFIG, else 1)")
    dataset.add_argument("--worker-index", type=int, help="this worker's index in [0, n)")
    dataset.add_argument("--quiet", action="store_true", help="no progress bar")
    dataset.add_argument("--unsafe", action="store_true",
                         help="allow loading models that hold Python code; trusted files only")
    dataset.set_defaults(run=run_explain_dataset)
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

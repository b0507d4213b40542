"""`python -m xplique explain-dataset`: one method over a whole dataset, shard by shard.

The run itself (shards, manifest, resuming, metrics, workers) is
:func:`xplique.runs.explain_dataset`; this command checks its options, loads the model and the
targets, and reports the result.
"""

import argparse
import os

from xplique.cli.errors import EXIT_OK, CliError, positive_int
from xplique.cli.files import load_array, load_model
from xplique.cli.methods import method_and_parameters, method_names


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the `explain-dataset` subcommand on `commands` (the parser's subparsers)."""
    parser = commands.add_parser(
        "explain-dataset",
        help="explain a whole dataset shard by shard, resumably, with metrics (xplique.runs)",
        description="Explain a dataset with one attribution method, shard by shard, into a "
        "run folder (shards, a manifest with checksums, explanations.npy); a killed run "
        "resumes with --resume. Methods (--method, any case): " + ", ".join(method_names())
        + ".",
    )
    parser.add_argument("--model", required=True, help="saved Keras model (.keras)")
    parser.add_argument(
        "--inputs", required=True,
        help="a .npy array (memory-mapped), a folder of .npy/.png files (one input each, in "
        "name order) or a TFRecord file of serialised float32 tensors",
    )
    parser.add_argument("--targets", help="targets, a .npy array of class indices (N,) or "
                         "one-hot (N, classes); default: the model's top class")
    parser.add_argument("--method", required=True, help="method name, any case")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help="method parameter, repeatable (as for `explain`)")
    parser.add_argument("--batch-size", type=positive_int, help="model evaluations per pass")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--shard-size", type=positive_int, default=256,
                         help="inputs per shard (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                         help="continue the run in --out (otherwise a folder holding a run is "
                         "refused)")
    parser.add_argument("--metric", action="append", default=[], metavar="NAME",
                         help="metric evaluated per shard and aggregated, repeatable "
                         "(e.g. Deletion, Insertion, MuFidelity, Complexity)")
    parser.add_argument("--num-workers", type=positive_int,
                         help="number of workers sharing the shards (default: TF_CONFIG, else 1)")
    parser.add_argument("--worker-index", type=int, help="this worker's index in [0, n)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--unsafe", action="store_true",
                         help="allow loading models that hold Python code; trusted files only")
    parser.set_defaults(run=run_explain_dataset)
    return parser


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

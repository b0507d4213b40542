"""Throughput of `xplique.runs.explain_dataset` against one call on the whole array (by hand).

Usage::

    python benchmarks/runs.py [--n 10000] [--shard-size 1000] [--repeats 3] [--quick]
                              [--methods Saliency,SmoothGrad]

For each method, on `--n` seeded 32x32x3 images and benchmarks/models.py's small CNN:

- `call`: `explainer(inputs, labels)` on the whole in-memory array;
- `run`: `explain_dataset(explainer, np.load(X.npy, mmap_mode="r"), labels, shard_size=...)`
  into a fresh folder: streaming from a memory map, hashing, one fsynced file per shard, the
  manifest rewrites and the final merge into `explanations.npy` included.

Each is timed `--repeats` times after one warm-up call (tracing); the table shows the medians,
images per second and the ratio run / call (the target is within 1.1).
"""

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from measure import machine_description, make_data, median_seconds  # noqa: E402
from models import MODELS  # noqa: E402

from xplique import runs  # noqa: E402
from xplique.attributions import Saliency, SmoothGrad  # noqa: E402

METHODS = {
    "Saliency": lambda model: Saliency(model, batch_size=256),
    "SmoothGrad": lambda model: SmoothGrad(model, nb_samples=8, batch_size=256, seed=0),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--quick", action="store_true", help="2000 images, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = min(args.n, 2000), 1
    builder, _ = MODELS["small_cnn"]
    model = builder()
    images, labels = make_data("small_cnn", args.n)
    work = tempfile.mkdtemp(prefix="xplique-bench-runs-")
    try:
        np.save(os.path.join(work, "x.npy"), images)
        stream = np.load(os.path.join(work, "x.npy"), mmap_mode="r")
        print(f"# explain_dataset vs one call: {args.n} images 32x32x3, small_cnn, shard_size="
              f"{args.shard_size}, median of {args.repeats}")
        print(f"# {machine_description()}")
        print("| method | call (s) | run (s) | call img/s | run img/s | run / call |")
        print("|---|---|---|---|---|---|")
        for name in args.methods.split(","):
            explainer = METHODS[name](model)
            call = median_seconds(lambda: np.asarray(explainer(images, labels)), args.repeats)
            counter = iter(range(10**6))

            def run():
                out = os.path.join(work, f"run-{name}-{next(counter)}")
                runs.explain_dataset(explainer, stream, labels, out_dir=out,
                                     shard_size=args.shard_size)
                shutil.rmtree(out)

            run_seconds = median_seconds(run, args.repeats)
            print(f"| {name} | {call:.2f} | {run_seconds:.2f} | {args.n / call:.0f} | "
                  f"{args.n / run_seconds:.0f} | {run_seconds / call:.3f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

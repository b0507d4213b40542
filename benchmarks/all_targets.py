"""Every target in one pass against one target (run by hand, never by the tests).

Usage::

    python benchmarks/all_targets.py [--models small_cnn,resnet_like] [--images 32]
        [--batch-size 32] [--repeats 7] [--methods Saliency,GradientInput,...]
        [--cpu-time] [--threads 1] [--quick] [--unroll-limit 16]

For each model and method, every repeat times in turn, in the same process: one single-target
call with the targets given (`explainer(x, labels)`), one with `targets=None` (the top class:
it needs the model outputs first), `targets="all"` (the 10 classes of the benchmark models) and
`top_k=10`. Reported: the medians over the repeats of each call's time divided by the
single-target call timed in the same repeat (K separate calls would cost about 10).

The floor of the K-target call: one forward pass `F` and K backward passes `B` per chunk
against `F + B` for one target, so `(1 + K b) / (1 + b)` with `b = B / F`. The script measures
`b` on the bare model (compiled forward, and forward+backward with respect to the inputs) and
prints that floor; CAM methods backpropagate only from the output to their conv layer, so their
`b` is much smaller and their ratio near 1.

`--unroll-limit 0` vectorises the K cotangents with parallel-for (`batch_jacobian`) for every K
instead of unrolling K backward passes up to 16 targets (see :mod:`xplique.commons.all_targets`).

With other processes on the CPU, wall times swing by 2x from call to call; `--cpu-time
--threads 1` measures the work instead (the process CPU time of single-threaded kernels).
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import tensorflow as tf  # noqa: E402
from measure import (  # noqa: E402
    Bare,
    add_profile_options,
    chosen_clock,
    clock_description,
    median_range,
    model_and_data,
    timed,
)
from models import NB_CLASSES  # noqa: E402

from xplique.attributions import (  # noqa: E402
    GradCAM,
    GradCAMPP,
    GradientInput,
    Saliency,
    SmoothGrad,
)
from xplique.commons import all_targets  # noqa: E402

BUILDERS = {
    "Saliency": lambda m, b: Saliency(m, batch_size=b),
    "GradientInput": lambda m, b: GradientInput(m, batch_size=b),
    "SmoothGrad": lambda m, b: SmoothGrad(m, batch_size=b, nb_samples=4, seed=0),
    "GradCAM": lambda m, b: GradCAM(m, batch_size=b, conv_layer="last_conv"),
    "GradCAMPP": lambda m, b: GradCAMPP(m, batch_size=b, conv_layer="last_conv"),
}

CALLS = ("single", "single_top", "all", "top_k")


def backward_ratio(model, shape, x, clock, repeats):
    """`b = B / F` of the bare model on `x`: (forward+backward - forward) / forward."""
    bare = Bare(model, shape)
    y = tf.one_hot(tf.range(int(x.shape[0])) % NB_CLASSES, NB_CLASSES)
    bare.forward(x), bare.gradient(x, y)
    forward, gradient = [], []
    for _ in range(repeats):
        forward.append(timed(lambda: bare.forward(x), clock))
        gradient.append(timed(lambda: bare.gradient(x, y), clock))
    f, g = statistics.median(forward), statistics.median(gradient)
    return max(g - f, 0.0) / f


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_profile_options(parser, methods=",".join(BUILDERS), images=32, repeats=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats, 16 images")
    parser.add_argument("--unroll-limit", type=int, default=all_targets.UNROLL_LIMIT,
                        help="unroll the K backward passes up to this K, else parallel-for")
    args = parser.parse_args(argv)
    all_targets.UNROLL_LIMIT = args.unroll_limit  # read when the kernels trace
    if args.quick:
        args.repeats, args.images = 3, min(args.images, 16)
    clock = chosen_clock(args)
    print(f"{clock_description(args)}, images: {args.images}, "
          f"batch_size: {args.batch_size}, K: {NB_CLASSES}, repeats: {args.repeats}, "
          f"unroll limit: {args.unroll_limit}")
    print(f"load average: {os.getloadavg()}")
    print("| model | method | single (ms) | targets=None / single | all / single | "
          "top_k=10 / single | top_k=10 / targets=None |")
    print("|---|---|---|---|---|---|---|")
    for model_name in args.models.split(","):
        model, shape, x, labels = model_and_data(model_name, args.images)
        b = backward_ratio(model, shape, x[:args.batch_size], clock, args.repeats)
        floor = (1 + NB_CLASSES * b) / (1 + b)
        for name in [m for m in args.methods.split(",") if m]:
            explainer = BUILDERS[name](model, args.batch_size)
            calls = {
                "single": lambda e=explainer: e(x, labels),
                "single_top": lambda e=explainer: e(x),
                "all": lambda e=explainer: e(x, targets="all"),
                "top_k": lambda e=explainer: e(x, top_k=NB_CLASSES),
            }
            for call in calls.values():
                call()  # warm-up: tracing
            times = {call: [] for call in CALLS}
            ratios = {call: [] for call in CALLS}
            for _ in range(args.repeats):
                measured = {call: timed(calls[call], clock) for call in CALLS}
                for call in CALLS:
                    times[call].append(measured[call])
                    ratios[call].append(measured[call] / measured["single"])
            top_vs_none = [t / s for t, s in zip(times["top_k"], times["single_top"])]
            print(f"| {model_name} | {name} | {1e3 * statistics.median(times['single']):.1f} | "
                  f"{median_range(ratios['single_top'])} | {median_range(ratios['all'])} | "
                  f"{median_range(ratios['top_k'])} | {median_range(top_vs_none)} |")
        print(f"| {model_name} | floor of the gradient methods, b = B/F = {b:.2f} | | | "
              f"{floor:.2f} | {floor:.2f} | |")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

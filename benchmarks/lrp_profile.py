"""LRP and DeepLIFT against a control, interleaved (run by hand, never by the tests).

Usage::

    python benchmarks/lrp_profile.py [--models small_cnn,resnet_like] [--images 64]
        [--batch-size 32] [--repeats 15] [--methods LRP,LRPEpsilonPlus,...]
        [--cpu-time] [--threads 1]

On a shared machine absolute times drift, so every repeat times, in turn, the bare model's
compiled forward+backward pass on the same batches (the floor), GradientInput (the control:
one gradient per input, same batches) and each method, all in the same process. Reported: the
median over the repeats of each call's time divided by the floor timed in the same repeat, and
the medians of the absolute times (ms per call).

With other processes on the CPU, wall times swing by 2x from call to call; `--cpu-time
--threads 1` measures the work instead (the process CPU time of single-threaded kernels),
whose ratios repeat to about 0.05.
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
    add_profile_options,
    chosen_clock,
    clock_description,
    median_range,
    model_and_data,
    timed,
)

from xplique.attributions import LRP, DeepLift, GradientInput  # noqa: E402
from xplique.attributions.lrp import EpsilonGammaBox, EpsilonPlus  # noqa: E402

BUILDERS = {
    "GradientInput": lambda m, b: GradientInput(m, batch_size=b),
    "LRP": lambda m, b: LRP(m, batch_size=b),
    "LRPEpsilonPlus": lambda m, b: LRP(m, EpsilonPlus(), batch_size=b),
    "LRPEpsilonGammaBox": lambda m, b: LRP(m, EpsilonGammaBox(0.0, 1.0), batch_size=b),
    "DeepLift": lambda m, b: DeepLift(m, batch_size=b),
}


def floor_fn(model):
    """The bare model's compiled forward+backward pass (gradient of the target logits)."""
    @tf.function(reduce_retracing=True)
    def gradient(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(model(x, training=False) * y)
        return tape.gradient(score, x)
    return gradient


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_profile_options(parser, methods="LRP,LRPEpsilonPlus,LRPEpsilonGammaBox,DeepLift",
                        images=64, repeats=15)
    args = parser.parse_args(argv)
    clock = chosen_clock(args)
    print(clock_description(args))
    names = ["GradientInput"] + [m for m in args.methods.split(",") if m]
    print(f"load average: {os.getloadavg()}")
    print("| model | method | ms / call (median) | ratio to floor (median, range) |")
    print("|---|---|---|---|")
    for model_name in args.models.split(","):
        model, _, x, labels = model_and_data(model_name, args.images)
        onehot = tf.one_hot(labels, 10)
        grad = floor_fn(model)
        chunks = [(x[i:i + args.batch_size], onehot[i:i + args.batch_size])
                  for i in range(0, args.images, args.batch_size)]

        def floor():
            out = None
            for xb, yb in chunks:
                out = grad(xb, yb)
            return out

        explainers = {n: BUILDERS[n](model, args.batch_size) for n in names}
        floor()
        for n in names:
            explainers[n](x, labels)  # warm-up: tracing
        times = {n: [] for n in ["floor"] + names}
        ratios = {n: [] for n in names}
        for _ in range(args.repeats):
            for n in names:
                f = timed(floor, clock)
                t = timed(lambda n=n: explainers[n](x, labels), clock)
                times["floor"].append(f)
                times[n].append(t)
                ratios[n].append(t / f)
        print(f"| {model_name} | floor | {1e3 * statistics.median(times['floor']):.1f} | 1 |")
        for n in names:
            print(f"| {model_name} | {n} | {1e3 * statistics.median(times[n]):.1f} | "
                  f"{median_range(ratios[n])} |")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""The cost of the `tf.distribute` path on one device (run by hand, never by the tests).

Usage::

    python benchmarks/distribution.py [--models small_cnn,resnet_like] [--images 64]
        [--batch-size 32] [--repeats 15] [--methods Saliency,SmoothGrad,...]
        [--cpu-time] [--threads 1] [--replicas 1]

Every repeat times, in turn and in the same process, each method's plain call (no strategy:
the default path) and the same explainer built with `strategy=MirroredStrategy(one device)`,
whose every chunk goes through `strategy.run` and `strategy.gather` on that one device.
Reported: the median over the repeats of the strategy call's time divided by the plain call's
timed in the same repeat (the issue's target: under 1.03), and the medians of the absolute
times.

The default path itself adds one `ContextVar` read per kernel call to what it did before the
strategy existed; `--probe` times that read alone.

With `--replicas 2` the CPU is split into two logical devices and the strategy has two
replicas: on one physical CPU this measures the cost of splitting, not a speed-up (both
replicas share the same cores).
"""

import argparse
import os
import statistics
import sys
import time
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
    make_data,
    median_range,
    timed,
)
from models import MODELS  # noqa: E402


def builders():
    """Method name -> `build(model, batch_size, **options)` (imported after the device set-up)."""
    from xplique.attributions import GradCAM, Occlusion, Rise, Saliency, SmoothGrad  # noqa: E402

    return {
        "Saliency": lambda m, b, **o: Saliency(m, batch_size=b, **o),
        "SmoothGrad": lambda m, b, **o: SmoothGrad(m, batch_size=b, nb_samples=8, seed=0, **o),
        "GradCAM": lambda m, b, **o: GradCAM(m, batch_size=b, **o),
        "Rise": lambda m, b, **o: Rise(m, batch_size=b, nb_samples=64, seed=0, **o),
        "Occlusion": lambda m, b, **o: Occlusion(m, batch_size=b, patch_size=16,
                                                 patch_stride=16, **o),
    }


def deletion(model, x, y, batch_size, **options):
    """Deletion (a metric) on random explanations: `run()` scores them once."""
    import numpy as np  # noqa: E402

    from xplique.metrics import Deletion  # noqa: E402

    phi = np.random.default_rng(0).normal(size=x.shape[:-1]).astype("float32")
    metric = Deletion(model, x, y, batch_size=batch_size, steps=8, **options)
    return lambda: metric(phi)


def probe(repeats: int = 1_000_000) -> float:
    """Nanoseconds per `active_strategy()` read (the default path's only addition)."""
    from xplique.commons.distribution import active_strategy  # noqa: E402

    start = time.perf_counter()
    for _ in range(repeats):
        active_strategy()
    return 1e9 * (time.perf_counter() - start) / repeats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_profile_options(parser, methods="Saliency,SmoothGrad,GradCAM,Rise,Occlusion,Deletion",
                        images=64, repeats=15)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--probe", action="store_true")
    args = parser.parse_args(argv)
    if args.replicas > 1:
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0],
            [tf.config.LogicalDeviceConfiguration() for _ in range(args.replicas)])
    clock = chosen_clock(args)
    if args.probe:
        print(f"active_strategy(): {probe():.0f} ns per read")
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(args.replicas)])
    print(f"{clock_description(args)}, replicas: {strategy.num_replicas_in_sync}, "
          f"load average: {os.getloadavg()}")
    print("| model | method | plain ms / call | strategy ms / call | ratio (median, range) |")
    print("|---|---|---|---|---|")
    table = builders()
    for model_name in args.models.split(","):
        model = MODELS[model_name][0]()
        x, y = make_data(model_name, args.images)
        for name in [m for m in args.methods.split(",") if m]:
            if name == "Deletion":
                plain = deletion(model, x, y, args.batch_size)
                distributed = deletion(model, x, y, args.batch_size, strategy=strategy)
            else:
                plain_explainer = table[name](model, args.batch_size)
                distributed_explainer = table[name](model, args.batch_size, strategy=strategy)
                plain = lambda e=plain_explainer: e(x, y)  # noqa: E731
                distributed = lambda e=distributed_explainer: e(x, y)  # noqa: E731
            plain(), distributed()  # warm-up: tracing
            times, ratios = {"plain": [], "strategy": []}, []
            for _ in range(args.repeats):
                first = timed(plain, clock)
                second = timed(distributed, clock)
                times["plain"].append(first)
                times["strategy"].append(second)
                ratios.append(second / first)
            print(f"| {model_name} | {name} | {1e3 * statistics.median(times['plain']):.1f} | "
                  f"{1e3 * statistics.median(times['strategy']):.1f} | "
                  f"{median_range(ratios, digits=3)} |",
                  flush=True)


if __name__ == "__main__":
    main()

"""Feature visualization speed: `optimize` (Fourier, standard transformations) and `maco` on the
benchmark CNNs at their input size, against the floor (run by hand, never by the tests).

Usage::

    python benchmarks/features_visualizations.py [--quick] [--models small_cnn,resnet_like]
        [--images 4] [--crops 32] [--steps 40] [--upstream /tmp/xplique-upstream]

- **time / step**: `(t(S) - t(s)) / (S - s)` where `t(k)` is the shortest wall time of a whole
  call with `k` steps (S = `--steps`, s = S / 4): set-up and tracing cancel out.
- **floor**: one compiled forward+backward pass of the bare model on the batch the step scores
  (the `--images` transformed images for `optimize`, the `--crops` crops for `maco`).
- **ratio** = time per step / floor.
- **direct** (ours): the compiled steps of `optimize` timed on their own, `--steps` steps per
  call (`optim.make_step` runs several steps per call), median of the repeats: on a loaded
  machine the difference of two whole calls is swamped by their set-up and tracing.
- With `--upstream FOLDER` (Xplique 2.0.2 installed there, see compare_xplique.py), the same
  calls of the reference run in a subprocess with `PYTHONPATH=FOLDER` and are reported beside.
- `--interleaved [--cpu-time] [--threads 1]`: instead, in this process, the compiled steps of
  `optimize` (recorded from a real call) and a compiled loop of the floor (forward+backward of
  the model on the same number of images), `--steps` of each per call, timed in turn at every
  repeat; reported: the median of the per-repeat ratios. With `--cpu-time --threads 1` the
  process CPU time of single-threaded kernels: the work, robust to other processes.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: The timed calls, run by this file in both packages (`ours` has `seed`, Xplique does not).
SNIPPET = r'''
import json, statistics, sys, time
sys.path.insert(0, {here!r})
import numpy as np, tensorflow as tf
from models import MODELS
from xplique.features_visualizations import Objective, maco, optimize
ours = "seed" in optimize.__code__.co_varnames
# ours, with the compiled `steps(count)` of optim.make_step
multi_step = ours and hasattr(__import__("xplique.features_visualizations.optim",
                                         fromlist=["run_steps"]), "run_steps")
builder, shape = MODELS[{model!r}]
model = builder()
kw = dict(seed=0) if ours else dict()

def run(kind, steps):
    if kind == "optimize":
        objective = Objective.neuron(model, "logits", list(range({images})))
        start = time.perf_counter()
        optimize(objective, nb_steps=steps, custom_shape=tuple(shape[:2]), **kw)
    else:
        objective = Objective.neuron(model, "logits", 0)
        start = time.perf_counter()
        maco(objective, nb_steps=steps, nb_crops={crops}, custom_shape=tuple(shape[:2]), **kw)
    return time.perf_counter() - start

def direct_optimize_step():
    """Ours only: the compiled steps of `optimize` timed directly (`steps(count)` runs `count`
    steps per call), without the set-up and tracing of whole calls that swamp the difference
    of two calls on a loaded machine."""
    from xplique.features_visualizations import optim
    made, make = [], optim.make_step
    def recording(*args):
        made.append(make(*args))
        return made[-1]
    optim.make_step = recording
    try:
        run("optimize", 2)
    finally:
        optim.make_step = make
    steps, count = made[-1], tf.constant({steps}, tf.int32)
    steps(count)
    times = []
    for _ in range(max(3, {repeats})):
        start = time.perf_counter()
        np.asarray(steps(count))
        times.append((time.perf_counter() - start) / {steps})
    return statistics.median(times)

results = {{}}
for kind in ("optimize", "maco"):
    try:
        run(kind, 2)
        long = min(run(kind, {steps}) for _ in range({repeats}))
        short = min(run(kind, {steps} // 4) for _ in range({repeats}))
        results[kind] = dict(per_step=(long - short) / ({steps} - {steps} // 4), first=None)
        if kind == "optimize" and multi_step:
            results[kind]["direct"] = direct_optimize_step()
    except Exception as error:  # the reference may fail: report it
        results[kind] = dict(error=f"{{type(error).__name__}}: {{str(error)[:200]}}")
print("RESULT" + json.dumps(results))
'''


def timed_calls(model: str, args, pythonpath=None) -> dict:
    code = SNIPPET.format(here=str(HERE), model=model, images=args.images, crops=args.crops,
                          steps=args.steps, repeats=args.repeats)
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=env, timeout=args.timeout, check=False,
                               cwd="/" if pythonpath else str(HERE.parent))
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT"):])
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
    return {kind: {"error": " / ".join(tail)} for kind in ("optimize", "maco")}


def floors(model_name: str, args) -> dict:
    from measure import Bare
    from models import MODELS

    builder, shape = MODELS[model_name]
    bare = Bare(builder(), shape)
    result = {}
    for kind, batch in (("optimize", args.images), ("maco", args.crops)):
        bare.seconds_per_evaluation("gradient", batch, passes=2)
        per_eval = min(
            bare.seconds_per_evaluation("gradient", batch, passes=5) for _ in range(3))
        result[kind] = per_eval * batch
    return result


def interleaved(model_name: str, args) -> None:
    """Ours only: `optimize`'s compiled steps against a compiled floor loop, timed in turn."""
    import statistics
    import time

    import numpy as np
    import tensorflow as tf
    from models import MODELS

    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    from xplique.features_visualizations import Objective, optim, optimize

    builder, shape = MODELS[model_name]
    model = builder()
    objective = Objective.neuron(model, "logits", list(range(args.images)))
    made, make = [], optim.make_step

    def recording(*parts):
        made.append(make(*parts))
        return made[-1]

    optim.make_step = recording
    try:
        optimize(objective, nb_steps=2, custom_shape=tuple(shape[:2]), seed=0)
    finally:
        optim.make_step = make
    steps = made[-1]
    images = tf.random.uniform((args.images,) + tuple(shape), seed=0)
    weights = tf.one_hot(tf.range(args.images) % 10, 10)

    @tf.function(input_signature=[tf.TensorSpec((), tf.int32)])
    def floor(count):
        def body(index, total):
            with tf.GradientTape() as tape:
                tape.watch(images)
                score = tf.reduce_sum(model(images, training=False) * weights)
            return index + 1, total + tf.reduce_sum(tape.gradient(score, images))
        return tf.while_loop(lambda index, _: index < count, body,
                             (tf.constant(0), tf.constant(0.0)), parallel_iterations=1)[1]

    clock = time.process_time if args.cpu_time else time.perf_counter
    count = tf.constant(args.steps, tf.int32)
    np.asarray(steps(count))
    np.asarray(floor(count))
    ratios, ours, floors_ = [], [], []
    for _ in range(args.repeats):
        start = clock()
        np.asarray(floor(count))
        f = clock() - start
        start = clock()
        np.asarray(steps(count))
        t = clock() - start
        ratios.append(t / f)
        ours.append(t / args.steps)
        floors_.append(f / args.steps)
    print(f"| {model_name} | optimize | {args.images} | {1e3 * statistics.median(ours):.2f} | "
          f"{1e3 * statistics.median(floors_):.2f} | {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f}) |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="small_cnn,resnet_like")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--crops", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20 steps, 1 repeat")
    parser.add_argument("--upstream", default=None, help="folder holding Xplique 2.0.2")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--interleaved", action="store_true",
                        help="optimize's compiled steps and the floor timed in turn, here")
    parser.add_argument("--cpu-time", action="store_true",
                        help="with --interleaved: process CPU time instead of the wall clock")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: TensorFlow's default)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 20, 1
    if args.interleaved:
        import tensorflow as tf

        if args.threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        print(f"clock: {'process CPU time' if args.cpu_time else 'wall'}, "
              f"threads: {args.threads or 'default'}")
        print("| model | call | batch | ours ms/step | floor ms/step | ratio (median, range) |")
        print("|---|---|---|---|---|---|")
        for model in args.models.split(","):
            interleaved(model, args)
        return

    from measure import machine_description

    print(machine_description())
    header = ("| model | call | batch | ours ms/step | floor ms | ratio | ours ms/step, direct "
              "| ratio, direct | Xplique ms/step |")
    print(header)
    print("|" + "---|" * 9)
    for model in args.models.split(","):
        ours = timed_calls(model, args)
        upstream = timed_calls(model, args, args.upstream) if args.upstream else {}
        floor = floors(model, args)
        for kind in ("optimize", "maco"):
            batch = args.images if kind == "optimize" else args.crops
            mine = ours[kind]
            if "error" in mine:
                print(f"| {model} | {kind} | {batch} | error: {mine['error']} | | | | | |")
                continue
            reference = upstream.get(kind, {})
            ref = (f"{1e3 * reference['per_step']:.1f}" if "per_step" in reference
                   else reference.get("error", "not run"))
            direct = mine.get("direct")
            extra = (f"{1e3 * direct:.1f} | {direct / floor[kind]:.2f}" if direct is not None
                     else "- | -")
            print(f"| {model} | {kind} | {batch} | {1e3 * mine['per_step']:.1f} | "
                  f"{1e3 * floor[kind]:.1f} | {mine['per_step'] / floor[kind]:.2f} | {extra} | "
                  f"{ref} |")


if __name__ == "__main__":
    main()

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
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 20, 1

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

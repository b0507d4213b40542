"""Speed and memory of every registered method against the bare model (run by hand).

Usage::

    python benchmarks/run.py [--methods A,B] [--models M,N] [--quick] [--no-memory]
                             [--markdown docs/benchmarks.md] [--note TEXT] [--json FILE]

For each method (benchmarks/methods.py) and model (benchmarks/models.py):

- time per image: median over `--repeats` calls of `explainer(inputs, labels)`, after one
  warm-up call that absorbs tracing;
- floor per image: the method's model evaluations (`Method.evaluations`) times the bare model's
  cost per evaluation at the method's `batch_size`, measured with compiled forward and
  forward+backward full passes, as many as the method needs, right before or after each of its
  calls (so both see the same load); the ratio is the median of the per-call ratios;
- peak memory with the method's sample count at 50 and at 400, each in a fresh subprocess:
  peak RSS of the process minus its RSS once the model is built and has run one tiny pass.

See benchmarks/README.md for what the numbers mean.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from methods import Method, select  # noqa: E402
from models import MODELS, NB_CLASSES  # noqa: E402

START, END = "<!-- BENCHMARKS:START -->", "<!-- BENCHMARKS:END -->"
MEMORY_SAMPLES = (50, 400)


class Settings:
    """Sizes of a run: inputs per timed call, repeats, inputs of the memory probe.

    A timed call explains `inputs` inputs, or more when that is needed to fill `min_passes`
    passes of `batch_size` evaluations: the floor assumes full passes, so a method that needs
    one evaluation per input is timed on several full batches, not on a fraction of one.
    """

    def __init__(self, quick: bool):
        self.quick = quick
        self.inputs = 4 if quick else 16
        self.min_passes = 4 if quick else 8
        self.repeats = 5 if quick else 9
        self.memory_inputs = 4
        self.memory_models = ("small_cnn",) if quick else tuple(MODELS)

    def inputs_for(self, method: Method, params: Dict) -> int:
        per_input = method.evaluations(1, params).total
        needed = -(-self.min_passes * method.batch_size // max(per_input, 1))
        return max(self.inputs, needed)


def make_data(model_name: str, n: int, seed: int = 0):
    """`n` seeded uniform images for `model_name` and integer labels."""
    shape = MODELS[model_name][1]
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 1.0, (n,) + shape).astype("float32")
    return images, np.arange(n) % NB_CLASSES


class Bare:
    """The bare model: compiled forward and forward+backward passes, batch dimension relaxed."""

    def __init__(self, model, shape):
        spec = tf.TensorSpec((None,) + tuple(shape), tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])

        def gradient(x, y):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_sum(model(x, training=False) * y)
            return tape.gradient(score, x)

        self.gradient = tf.function(
            gradient, input_signature=[spec, tf.TensorSpec((None, NB_CLASSES), tf.float32)]
        )
        self.shape = tuple(shape)
        self._data: Dict[int, tuple] = {}

    def _batch(self, batch_size: int):
        if batch_size not in self._data:
            x = tf.random.stateless_uniform((batch_size,) + self.shape, seed=(1, 2))
            y = tf.one_hot(tf.range(batch_size) % NB_CLASSES, NB_CLASSES)
            self._data[batch_size] = (x, y)
        return self._data[batch_size]

    def seconds_per_evaluation(self, kind: str, batch_size: int, passes: int) -> float:
        """Wall time of `passes` full passes of `kind` ("forward" or "gradient"), per
        evaluation."""
        x, y = self._batch(batch_size)
        fn = (lambda: self.forward(x)) if kind == "forward" else (lambda: self.gradient(x, y))
        start = time.perf_counter()
        for _ in range(passes):
            np.asarray(fn())
        return (time.perf_counter() - start) / (passes * batch_size)

    def warm_up(self, batch_size: int) -> None:
        for kind in ("forward", "gradient"):
            self.seconds_per_evaluation(kind, batch_size, passes=1)


def time_method(method: Method, model, model_name: str, bare: Bare, settings: Settings) -> Dict:
    """Time one method on one model against its floor.

    Each repeat times one call of the method and, right before or after it (alternately), as
    many full bare passes as the method needs, so that the method and its floor see the same
    machine load; the ratio is the median of the per-repeat ratios.
    """
    params = method.parameters(settings.quick)
    n = settings.inputs_for(method, params)
    cost = method.evaluations(n, params)
    images, labels = make_data(model_name, n)
    explainer = method.build(model, settings.quick)
    np.asarray(explainer(images, labels))  # warm-up: traces the kernels
    bare.warm_up(method.batch_size)
    kinds = [kind for kind in ("forward", "gradient") if getattr(cost, kind)]

    def floor_seconds():
        return sum(
            getattr(cost, kind) * bare.seconds_per_evaluation(
                kind, method.batch_size, passes=-(-getattr(cost, kind) // method.batch_size)
            )
            for kind in kinds
        )

    def method_seconds():
        start = time.perf_counter()
        np.asarray(explainer(images, labels))
        return time.perf_counter() - start

    times, floors = [], []
    for repeat in range(settings.repeats):
        if repeat % 2:
            floors.append(floor_seconds())
            times.append(method_seconds())
        else:
            times.append(method_seconds())
            floors.append(floor_seconds())
    ratios = [t / f for t, f in zip(times, floors)] if kinds else [float("nan")]
    return dict(
        method=method.name,
        model=model_name,
        batch_size=method.batch_size,
        inputs=n,
        evaluations_per_input=cost.total / n,
        kind=cost.kind,
        time_ms=1000 * statistics.median(times) / n,
        floor_ms=1000 * statistics.median(floors) / n,
        ratio=statistics.median(ratios),
        ratio_spread=(min(ratios), max(ratios)),
        params={k: v for k, v in params.items() if k not in ("batch_size", "seed")},
        tracing_count=getattr(explainer, "tracing_count", None),
    )


def _status_bytes(field: str) -> Optional[int]:
    """A memory field of /proc/self/status (`VmRSS`, `VmHWM`) in bytes, None without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def memory_probe(config: Dict) -> Dict:
    """Run in a fresh process: peak RSS growth of one method at one sample count.

    The baseline is the resident memory once the model is built and has run one tiny pass. The
    peak is then read from `VmHWM` after resetting it to the baseline: `getrusage`'s
    `ru_maxrss` cannot be reset and, on Linux, keeps the peak of the process image before
    `exec` (a fork of the parent harness), so it is only the fallback where /proc is missing.
    """
    method = select(config["method"])[0]
    build, shape = MODELS[config["model"]]
    model = build()
    images, labels = make_data(config["model"], config["inputs"])
    Bare(model, shape).warm_up(1)  # runtime, thread pools and weights belong to the baseline
    gc.collect()
    baseline = _status_bytes("VmRSS") or _ru_maxrss_bytes()
    reset = _reset_peak_rss()
    explainer = method.build(model, config["quick"], **{method.samples_param: config["samples"]})
    np.asarray(explainer(images, labels))
    peak = (_status_bytes("VmHWM") if reset else None) or _ru_maxrss_bytes()
    return dict(config, peak_mib=(peak - baseline) / 2**20, peak_reset=reset)


def run_memory_probe(method: Method, model_name: str, samples: int, settings: Settings) -> float:
    config = dict(method=method.name, model=model_name, samples=samples,
                  inputs=settings.memory_inputs, quick=settings.quick)
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe", json.dumps(config)],
        capture_output=True, text=True, check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"memory probe {config} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])["peak_mib"]


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = re.findall(r"^model name\s*:\s*(.+)$", info.read(), flags=re.M)
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import keras

    return (
        f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"GPU: {'yes' if tf.config.list_physical_devices('GPU') else 'none'}"
    )


def _format_evaluations(row: Dict) -> str:
    count = row["evaluations_per_input"]
    count = f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"
    return f"{count} {row['kind']}"


def markdown(rows: List[Dict], settings: Settings, note: Optional[str]) -> str:
    """The generated section of docs/benchmarks.md."""
    today = datetime.date.today().isoformat()
    lines = [
        START,
        "",
    ]
    if note:
        lines += [f"!!! warning \"{note}\"", ""]
    lines += [
        f"Measured on {today}, {machine_description()}.",
        f"Settings: {'quick' if settings.quick else 'full'}; each timed call explains "
        f"{settings.inputs} inputs, or enough to fill {settings.min_passes} passes of "
        f"`batch_size` evaluations (column N); median of {settings.repeats} calls after one "
        f"warm-up call; memory probe on {settings.memory_inputs} inputs in a fresh process.",
        "",
        "| method | model | batch_size | N | evaluations / image | time / image (ms) | "
        "floor / image (ms) | ratio (min-max) | peak memory, 50 / 400 samples (MiB) |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        low, high = row["ratio_spread"]
        memory = row.get("memory")
        memory_cell = (
            " / ".join(f"{memory[str(s)]:.0f}" for s in MEMORY_SAMPLES) if memory else "n/a"
        )
        lines.append(
            f"| {row['method']} | {row['model']} | {row['batch_size']} | {row['inputs']} | "
            f"{_format_evaluations(row)} | {row['time_ms']:.2f} | {row['floor_ms']:.2f} | "
            f"{row['ratio']:.2f}x ({low:.2f}-{high:.2f}) | {memory_cell} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Replace the text between the markers of `path` (appended when the markers are absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="", help="comma-separated names (default: all)")
    parser.add_argument("--models", default="", help=f"comma-separated, among {list(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per method")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="write the table between the markers of this file")
    parser.add_argument("--note", default=None, help="warning shown above the table")
    parser.add_argument("--json", type=Path, default=None, help="also dump raw results here")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    if args.probe:
        print(json.dumps(memory_probe(json.loads(args.probe))))
        return []
    settings = Settings(args.quick)
    if args.repeats:
        settings.repeats = args.repeats
    methods = select(args.methods)
    model_names = [m.strip() for m in args.models.split(",") if m.strip()] or list(MODELS)
    unknown = [m for m in model_names if m not in MODELS]
    if unknown:
        raise SystemExit(f"Unknown model(s) {unknown}. Available: {list(MODELS)}")

    rows = []
    for model_name in model_names:
        build, shape = MODELS[model_name]
        model = build()
        bare = Bare(model, shape)
        for method in methods:
            row = time_method(method, model, model_name, bare, settings)
            print(f"{row['method']:>20} {model_name:>12}  {row['time_ms']:8.2f} ms/image  "
                  f"floor {row['floor_ms']:8.2f}  ratio {row['ratio']:.2f}x "
                  f"({row['ratio_spread'][0]:.2f}-{row['ratio_spread'][1]:.2f})", flush=True)
            rows.append(row)

    if not args.no_memory:
        for row in rows:
            method = select(row["method"])[0]
            if method.samples_param is None or row["model"] not in settings.memory_models:
                continue
            row["memory"] = {
                str(s): run_memory_probe(method, row["model"], s, settings)
                for s in MEMORY_SAMPLES
            }
            print(f"{row['method']:>20} {row['model']:>12}  peak memory "
                  + " / ".join(f"{row['memory'][str(s)]:.0f}" for s in MEMORY_SAMPLES)
                  + " MiB at " + " / ".join(map(str, MEMORY_SAMPLES)) + " samples", flush=True)

    section = markdown(rows, settings, args.note)
    print(section)
    if args.markdown:
        write_markdown(args.markdown, section)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()

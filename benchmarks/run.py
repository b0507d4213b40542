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

A method that cannot run on a model (its constructor raises ValueError or TypeError, e.g. CAM
without a global-average-pooling head) is shown as "n/a (reason)" for that model.

See benchmarks/README.md for what the numbers mean.
"""

import argparse
import json
import os
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
from measure import Bare, PeakMemory, make_data  # noqa: E402
from methods import Method, select  # noqa: E402
from models import MODELS  # noqa: E402
from report import add_report_options, measured_on, publish, section  # noqa: E402

START, END = "<!-- BENCHMARKS:START -->", "<!-- BENCHMARKS:END -->"
MEMORY_SAMPLES = (50, 400)


class Settings:
    """Sizes of a run: inputs per timed call, repeats, inputs of the memory probe.

    A timed call explains `inputs` inputs, or more when that is needed to fill `min_passes`
    passes of `batch_size` evaluations: the floor assumes full passes, so a method that needs
    one evaluation per input is timed on several full batches, not on a fraction of one. A
    method that needs so many evaluations per input that `inputs` of them exceed
    `max_evaluations` (Rise, Sobol, KernelShap...) explains fewer inputs, at least
    `min_inputs`: hundreds of full passes already amortise everything but the passes.
    """

    def __init__(self, quick: bool):
        self.quick = quick
        self.inputs = 4 if quick else 16
        self.min_inputs = 2
        self.min_passes = 4 if quick else 8
        self.max_evaluations = 2048 if quick else 8192
        self.repeats = 5 if quick else 9
        self.memory_inputs = 4
        self.memory_models = ("small_cnn",) if quick else tuple(MODELS)

    def inputs_for(self, method: Method, params: Dict, model) -> int:
        per_input = max(method.cost(1, params, model).total, 1)
        needed = -(-self.min_passes * method.batch_size // per_input)
        affordable = max(self.min_inputs, self.max_evaluations // per_input)
        return max(needed, min(self.inputs, affordable))

    def describe(self) -> str:
        """How many inputs a timed call explains (for the docs)."""
        return (
            f"each timed call explains {self.inputs} inputs, or enough to fill "
            f"{self.min_passes} passes of `batch_size` evaluations, or fewer (at least "
            f"{self.min_inputs}) when {self.inputs} would need more than "
            f"{self.max_evaluations} evaluations (column N)"
        )


def not_applicable(method: Method, model_name: str, error: Exception) -> Dict:
    """The row of a method that cannot run on a model: its constructor refused the model."""
    return dict(method=method.name, model=model_name, batch_size=method.batch_size,
                not_applicable=short_reason(error))


def short_reason(error: Exception, limit: int = 120) -> str:
    """The first sentence of an error message, at most `limit` characters."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for end in (". ", "; "):
        text = text.split(end, 1)[0]
    text = text.rstrip(".")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_layers(method: Method, explainer, params: Dict) -> None:
    """Fail unless the explainer uses the layers named in `params` (e.g. `conv_layer`)."""
    for key in ("conv_layer", "output_layer"):
        wanted = params.get(key)
        if not isinstance(wanted, str):
            continue
        used = getattr(explainer, key, None)
        name = getattr(used, "name", used)
        if name is not None and name != wanted:
            raise RuntimeError(
                f"{method.name} was given {key}={wanted!r} but uses layer {name!r}"
            )


def time_method(method: Method, model, model_name: str, bare: Bare, settings: Settings) -> Dict:
    """Time one method on one model against its floor.

    Each repeat times one call of the method and, right before or after it (alternately), as
    many full bare passes as the method needs, so that the method and its floor see the same
    machine load; the ratio is the median of the per-repeat ratios. A method whose constructor
    refuses the model (ValueError, TypeError) gives a "not applicable" row.
    """
    params = method.parameters(settings.quick)
    try:
        explainer = method.build(model, settings.quick)
    except (ValueError, TypeError) as error:
        return not_applicable(method, model_name, error)
    check_layers(method, explainer, params)
    n = settings.inputs_for(method, params, model)
    cost = method.cost(n, params, model)
    images, labels = make_data(model_name, n)
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


def memory_probe(config: Dict) -> Dict:
    """Run in a fresh process: peak RSS growth of one method at one sample count.

    The baseline is the resident memory once the model is built and has run one tiny pass
    (see :class:`measure.PeakMemory` for how the peak is read).
    """
    method = select(config["method"])[0]
    build, shape = MODELS[config["model"]]
    model = build()
    images, labels = make_data(config["model"], config["inputs"])
    Bare(model, shape).warm_up(1)  # runtime, thread pools and weights belong to the baseline
    memory = PeakMemory().start()
    explainer = method.build(model, config["quick"], **{method.samples_param: config["samples"]})
    np.asarray(explainer(images, labels))
    return dict(config, peak_mib=memory.mib(), peak_reset=memory.reset)


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


def _format_evaluations(row: Dict) -> str:
    count = row["evaluations_per_input"]
    count = f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"
    return f"{count} {row['kind']}"


def markdown(rows: List[Dict], settings: Settings, note: Optional[str]) -> str:
    """The generated section of docs/benchmarks.md."""
    lines = [
        f"{measured_on()}.",
        f"Settings: {'quick' if settings.quick else 'full'}; {settings.describe()}; median "
        f"of {settings.repeats} calls after one warm-up call; memory probe on "
        f"{settings.memory_inputs} inputs in a fresh process.",
        "",
        "| method | model | batch_size | N | evaluations / image | time / image (ms) | "
        "floor / image (ms) | ratio (min-max) | peak memory, 50 / 400 samples (MiB) |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if "not_applicable" in row:
            lines.append(
                f"| {row['method']} | {row['model']} | {row['batch_size']} | - | - | "
                f"n/a ({row['not_applicable']}) | - | - | - |"
            )
            continue
        low, high = row["ratio_spread"]
        memory = row.get("memory")
        memory_cell = (
            " / ".join(f"{memory[str(s)]:.0f}" for s in MEMORY_SAMPLES) if memory else "-"
        )
        lines.append(
            f"| {row['method']} | {row['model']} | {row['batch_size']} | {row['inputs']} | "
            f"{_format_evaluations(row)} | {row['time_ms']:.2f} | {row['floor_ms']:.2f} | "
            f"{row['ratio']:.2f}x ({low:.2f}-{high:.2f}) | {memory_cell} |"
        )
    return section(START, note, lines, END)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="", help="comma-separated names (default: all)")
    parser.add_argument("--models", default="", help=f"comma-separated, among {list(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per method")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    add_report_options(parser)
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
            rows.append(row)
            if "not_applicable" in row:
                print(f"{row['method']:>20} {model_name:>12}  n/a ({row['not_applicable']})",
                      flush=True)
                continue
            print(f"{row['method']:>20} {model_name:>12}  {row['time_ms']:8.2f} ms/image  "
                  f"floor {row['floor_ms']:8.2f}  ratio {row['ratio']:.2f}x "
                  f"({row['ratio_spread'][0]:.2f}-{row['ratio_spread'][1]:.2f})", flush=True)

    if not args.no_memory:
        for row in rows:
            method = select(row["method"])[0]
            if (method.samples_param is None or "not_applicable" in row
                    or row["model"] not in settings.memory_models):
                continue
            row["memory"] = {
                str(s): run_memory_probe(method, row["model"], s, settings)
                for s in MEMORY_SAMPLES
            }
            print(f"{row['method']:>20} {row['model']:>12}  peak memory "
                  + " / ".join(f"{row['memory'][str(s)]:.0f}" for s in MEMORY_SAMPLES)
                  + " MiB at " + " / ".join(map(str, MEMORY_SAMPLES)) + " samples", flush=True)

    publish(markdown(rows, settings, args.note), rows, args, START, END)
    return rows


if __name__ == "__main__":
    main()

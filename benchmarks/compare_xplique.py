"""Our methods against the reference implementation, Xplique 2.0.2 (run by hand).

Usage::

    pip install --no-deps --target /tmp/xplique-upstream xplique==2.0.2 deprecated einops \\
        tensorflow-probability==0.25.0 tf-keras==2.21.0 dm-tree
    python benchmarks/compare_xplique.py [--upstream /tmp/xplique-upstream] [--methods A,B]
        [--models M,N] [--quick] [--inputs N] [--repeats K] [--timeout S]
        [--markdown docs/benchmarks.md] [--note TEXT] [--json FILE]

Both packages are named `xplique`, so the reference is installed into its own folder and every
measurement runs in its own fresh subprocess: the reference's with `PYTHONPATH=<upstream>`
first (so that `import xplique` finds it), ours without it. Each subprocess builds the same
seeded benchmark model (models.py), the same seeded images with one-hot targets, the explainer
with the same constructor parameters (the registry's, methods.py: same `batch_size`; ours also
gets `seed=0` where it takes one, the reference's global seeds are set with
`keras.utils.set_random_seed(0)`), then times one warm-up call (tracing included: "first call")
and the median of `--repeats` further calls per image. Peak memory is measured as in run.py's
probe: peak resident memory minus the resident memory once the model is built and has run one
tiny pass, over the explainer's construction and all its calls.

A method that fails in the reference is reported as "fails upstream: <error>", never hidden.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from report import (  # noqa: E402
    add_report_options,
    measured_on,
    one_line,
    publish,
    section,
    speedup_cell,
    time_cell,
)
from workers import ROOT, run_in_fresh_process, serve, xplique_env  # noqa: E402

START, END = "<!-- XPLIQUE-COMPARISON:START -->", "<!-- XPLIQUE-COMPARISON:END -->"
DEFAULT_UPSTREAM = "/tmp/xplique-upstream"
REFERENCE_VERSION = "2.0.2"
INSTALL = (
    f"pip install --no-deps --target {{path}} xplique=={REFERENCE_VERSION} deprecated einops "
    "tensorflow-probability==0.25.0 tf-keras==2.21.0 dm-tree"
)
RESULT = "COMPARE-RESULT "

#: Registry names (methods.py) compared, each a class of the same name in both packages.
COMPARED = (
    "Saliency", "GradientInput", "IntegratedGradients", "SmoothGrad", "SquareGrad", "VarGrad",
    "DeconvNet", "GuidedBackprop", "GradCAM", "GradCAMPP", "FEM", "Occlusion", "Rise", "Lime",
    "KernelShap", "SobolAttributionMethod", "HsicAttributionMethod",
)


def constructor_kwargs(method, quick: bool, shape) -> Dict:
    """Keyword arguments valid for both packages' class `method.name`: the registry's
    parameters without `seed` (registry entries built through a helper are translated)."""
    params = method.parameters(quick)
    params.pop("seed", None)
    if method.name == "Occlusion":  # the registry tiles the image with patches_per_side^2
        side = params.pop("patches_per_side")
        patch = [shape[0] // side, shape[1] // side]
        params.update(patch_size=patch, patch_stride=patch)
    return params


# ----------------------------------------------------------------------------------- worker


def worker(config: Dict) -> Dict:
    """Run in a fresh process: build, warm up and time one explainer of the package that
    `import xplique` finds (checked to lie under `config["root"]`)."""
    import numpy as np
    import tensorflow as tf
    from measure import Bare, PeakMemory, call_seconds, make_data
    from models import MODELS, NB_CLASSES

    result = dict(config)
    stage = "import"
    try:
        import xplique
        import xplique.attributions as attributions

        origin = Path(xplique.__file__).resolve()
        result.update(xplique_file=str(origin), version=getattr(xplique, "__version__", "?"))
        if Path(config["root"]).resolve() not in origin.parents:
            raise ImportError(f"`import xplique` found {origin}, not the package under "
                              f"{config['root']}")
        import keras

        stage = "setup"
        build, shape = MODELS[config["model"]]
        model = build()
        images, labels = make_data(config["model"], config["inputs"])
        targets = tf.one_hot(labels, NB_CLASSES).numpy()
        Bare(model, shape).warm_up(1)  # runtime, thread pools and weights: the baseline
        keras.utils.set_random_seed(0)
        memory = PeakMemory().start()
        stage = "constructor"
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config["kwargs"].items()}
        start = time.perf_counter()
        explainer = getattr(attributions, config["method"])(model, **kwargs)
        result["build_s"] = time.perf_counter() - start
        stage = "explain"
        start = time.perf_counter()
        explanations = np.asarray(explainer(images, targets))
        result["first_call_s"] = time.perf_counter() - start
        times = call_seconds(lambda: np.asarray(explainer(images, targets)), config["repeats"])
        result.update(
            time_ms=1000 * statistics.median(times) / config["inputs"],
            peak_mib=memory.mib(),
            output_shape=list(explanations.shape),
            finite=bool(np.isfinite(explanations).all()),
        )
    except Exception as error:  # reported in the table, never hidden
        result.update(error=one_line(error), stage=stage)
    return result


# ----------------------------------------------------------------------------------- parent


def run_worker(config: Dict, upstream: Optional[Path], timeout: float) -> Dict:
    """Run :func:`worker` in a fresh process: with `upstream` first on PYTHONPATH (the
    reference) or with the repository root first (ours)."""
    try:
        result, last = run_in_fresh_process(Path(__file__).resolve(), config,
                                            xplique_env(upstream), RESULT, timeout)
    except subprocess.TimeoutExpired:
        return dict(config, error=f"timed out after {timeout:.0f} s", stage="explain")
    if result is not None:
        return result
    return dict(config, error=f"process died: {last.strip()[:160]}", stage="process")


def check_upstream(path: Path) -> None:
    """Exit with the install command unless the reference is installed at `path`."""
    if not (path / "xplique" / "__init__.py").is_file():
        raise SystemExit(
            f"Xplique {REFERENCE_VERSION} (the reference) is not installed at {path}.\n"
            f"Install it into its own folder (our package is also named `xplique`):\n"
            f"    {INSTALL.format(path=path)}\n"
            "or pass its folder with --upstream PATH."
        )
    versions = sorted(p.name for p in path.glob("xplique-*.dist-info"))
    if versions and versions != [f"xplique-{REFERENCE_VERSION}.dist-info"]:
        print(f"warning: {path} holds {versions}, the reference is {REFERENCE_VERSION}",
              file=sys.stderr)


def _side(row: Dict, key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else "-"


def markdown(rows: List[Dict], settings, note: Optional[str], version: str) -> str:
    """The generated comparison section of docs/benchmarks.md."""
    lines = [
        f"{measured_on()}; reference Xplique {version}.",
        f"Settings: {'quick' if settings.quick else 'full'} registry parameters; "
        f"{settings.describe()}; median of {settings.repeats} calls after one warm-up call "
        "(the first call, tracing included, is shown apart); each measurement in its own "
        "fresh process. Speed-up = Xplique's time / ours (above 1: ours is faster).",
        "",
        "| method | model | batch_size | N | Xplique, time / image (ms) | ours, time / image "
        "(ms) | speed-up | first call, Xplique / ours (s) | peak memory, Xplique / ours "
        "(MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        theirs, ours = row["upstream"], row["ours"]
        their_time, our_time = time_cell(theirs, fails="fails upstream"), time_cell(ours)
        speedup = speedup_cell(theirs, ours)
        first = f"{_side(theirs, 'first_call_s', '.2f')} / {_side(ours, 'first_call_s', '.2f')}"
        peak = f"{_side(theirs, 'peak_mib', '.0f')} / {_side(ours, 'peak_mib', '.0f')}"
        lines.append(
            f"| {row['method']} | {row['model']} | {row['batch_size']} | {row['inputs']} | "
            f"{their_time} | {our_time} | {speedup} | {first} | {peak} |"
        )
    return section(START, note, lines, END)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, default=Path(DEFAULT_UPSTREAM),
                        help=f"folder holding Xplique {REFERENCE_VERSION} (pip --target)")
    parser.add_argument("--methods", default="",
                        help=f"comma-separated registry names (default: all of {COMPARED})")
    parser.add_argument("--models", default="", help="comma-separated benchmark models")
    parser.add_argument("--quick", action="store_true", help="quick registry parameters, "
                        "fewer inputs and repeats")
    parser.add_argument("--inputs", type=int, default=None, help="inputs per call (minimum)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per method")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed to one measurement process")
    add_report_options(parser)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    if args.worker:
        serve(worker, args.worker, RESULT)
        return []
    upstream = args.upstream.resolve()
    check_upstream(upstream)

    sys.path.insert(1, str(ROOT))
    from methods import select
    from models import MODELS
    from run import Settings

    names = args.methods or ",".join(COMPARED)
    methods = select(names)
    unknown = [m.name for m in methods if m.name not in COMPARED]
    if unknown:
        raise SystemExit(f"Not in both packages: {unknown}. Compared: {', '.join(COMPARED)}")
    model_names = [m.strip() for m in args.models.split(",") if m.strip()] or list(MODELS)
    if [m for m in model_names if m not in MODELS]:
        raise SystemExit(f"Unknown model(s) in {model_names}. Available: {list(MODELS)}")
    settings = Settings(args.quick)
    settings.repeats = args.repeats or (3 if args.quick else 5)
    if args.inputs:
        settings.inputs = args.inputs

    rows, version = [], REFERENCE_VERSION
    for model_name in model_names:
        build, shape = MODELS[model_name]
        model = build()
        for index, method in enumerate(methods):
            params = method.parameters(args.quick)
            config = dict(
                method=method.name, model=model_name, repeats=settings.repeats,
                inputs=settings.inputs_for(method, params, model),
                kwargs=constructor_kwargs(method, args.quick, shape),
            )
            ours_config = dict(config, root=str(ROOT))
            if "seed" in params:
                ours_config["kwargs"] = dict(config["kwargs"], seed=params["seed"])
            sides = [("upstream", dict(config, root=str(upstream)), upstream),
                     ("ours", ours_config, None)]
            results = {}
            for side, side_config, path in (sides if index % 2 == 0 else sides[::-1]):
                results[side] = run_worker(side_config, path, args.timeout)
                if results[side].get("stage") == "import":
                    raise SystemExit(
                        f"`import xplique` failed in the {side} process: "
                        f"{results[side]['error']}\n"
                        + (f"Install the reference and its dependencies with:\n    "
                           f"{INSTALL.format(path=upstream)}" if side == "upstream" else "")
                    )
            version = results["upstream"].get("version", version)
            row = dict(method=method.name, model=model_name, batch_size=method.batch_size,
                       inputs=config["inputs"], kwargs=config["kwargs"], **results)
            rows.append(row)
            print(_summary(row), flush=True)

    publish(markdown(rows, settings, args.note, version), rows, args, START, END)
    return rows


def _summary(row: Dict) -> str:
    def side(result):
        if "error" in result:
            return f"fails ({result['error']})"
        return f"{result['time_ms']:9.2f} ms/image, peak {result['peak_mib']:.0f} MiB"

    theirs, ours = row["upstream"], row["ours"]
    speedup = (f"  speed-up {theirs['time_ms'] / ours['time_ms']:.2f}x"
               if "error" not in theirs and "error" not in ours else "")
    return (f"{row['method']:>22} {row['model']:>12}  xplique: {side(theirs)}  "
            f"ours: {side(ours)}{speedup}")


if __name__ == "__main__":
    main()

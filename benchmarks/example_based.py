"""Speed and memory of the example-based search (run by hand, never by the tests).

Usage::

    python benchmarks/example_based.py [--quick] [--no-memory] [--upstream /tmp/xplique-upstream]

- search: time of `SimilarExamples(...).explain` for 100 inputs over 10k and 100k cases of
  64-dim projections (identity projection, k=10), and over 10k and 100k 8x8 images through a
  `LatentSpaceProjection` of a small CNN (the cases' projection, once, is timed apart);
- prototypes: `ProtoDash`, `MMDCritic` and `ProtoGreedy` selecting 10 prototypes among 10k cases;
- memory: peak resident memory of one search, in a fresh process per case count, over the
  resident memory once the explainer is built (the search's working memory, which should not
  grow with the number of cases), and the build's own peak (raw cases plus projections).

With `--upstream` (a folder where Xplique 2.0.2 is installed, see compare_xplique.py), every
measurement is also run with the reference implementation, side by side: each measurement runs
in its own fresh process (`PYTHONPATH=<upstream>` for the reference), with the same data, the
same constructor arguments and an identity projection given as a callable (Xplique requires a
projection). Numbers depend on the machine and its load; the script prints markdown tables.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
TIMEOUT = 240


def identity(inputs, targets=None):
    """The identity projection, as a callable both implementations accept."""
    return inputs


def _timed(function, repeats: int, first: bool = False):
    """Median seconds of `repeats` calls after a warm-up call (traces, and for example-based
    methods the projection of the cases); with `first`, `(warm-up seconds, median)`."""
    start = time.perf_counter()
    function()
    first_seconds = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return (first_seconds, statistics.median(times)) if first else statistics.median(times)


def _cnn():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="last"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(10),
    ])


def search_rows(sizes, repeats):
    from xplique.example_based import SimilarExamples
    from xplique.example_based.projections import LatentSpaceProjection

    rng = np.random.default_rng(0)
    rows = []
    inputs = rng.normal(size=(100, 64)).astype("float32")
    for count in sizes:
        cases = rng.normal(size=(count, 64)).astype("float32")
        start = time.perf_counter()
        explainer = SimilarExamples(cases, k=10, batch_size=4096, projection=identity,
                                    case_returns=["distances"])
        build = time.perf_counter() - start
        first, seconds = _timed(lambda: explainer(inputs), repeats, first=True)
        rows.append(("64-dim projections", count, build, first, seconds))
    model = _cnn()
    images = rng.uniform(size=(100, 8, 8, 1)).astype("float32")
    for count in sizes:
        cases = rng.uniform(size=(count, 8, 8, 1)).astype("float32")
        start = time.perf_counter()
        explainer = SimilarExamples(cases, k=10, batch_size=4096,
                                    projection=LatentSpaceProjection(model, "pool"),
                                    case_returns=["distances"])
        build = time.perf_counter() - start
        first, seconds = _timed(lambda: explainer(images), repeats, first=True)
        rows.append(("8x8 images, LatentSpaceProjection('pool')", count, build, first, seconds))
    return rows


def prototype_rows(count, repeats):
    from xplique.example_based import MMDCritic, ProtoDash, ProtoGreedy

    cases = np.random.default_rng(1).normal(size=(count, 64)).astype("float32")
    rows = []
    for method in (ProtoDash, MMDCritic, ProtoGreedy):
        seconds = _timed(lambda: method(cases, nb_global_prototypes=10, batch_size=2048,
                                        projection=identity), max(1, repeats // 3))
        rows.append((method.__name__, count, seconds))
    return rows


def _memory_child(count):
    import tensorflow as tf  # noqa: F401
    from measure import PeakMemory

    from xplique.example_based import SimilarExamples

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(100, 64)).astype("float32")
    build = PeakMemory().start()
    cases = rng.normal(size=(count, 64)).astype("float32")
    explainer = SimilarExamples(cases, k=10, batch_size=4096, projection=identity,
                                case_returns=["distances"])
    explainer(inputs[:2])
    build_mib = build.mib()
    search = PeakMemory().start()
    explainer(inputs)
    print(json.dumps({"search_mib": search.mib(), "build_mib": build_mib}))


def _child(arguments, upstream=None):
    """Run this script with `arguments` in a fresh process; its last stdout line (JSON)."""
    env = dict(os.environ)
    if upstream:
        env["PYTHONPATH"] = upstream + os.pathsep + env.get("PYTHONPATH", "")
    try:
        output = subprocess.run([sys.executable, os.path.abspath(__file__)] + arguments,
                                capture_output=True, text=True, check=True, cwd=HERE, env=env,
                                timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        return {"error": (error.stderr or "").strip().splitlines()[-1:]}
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--upstream", help="folder where Xplique 2.0.2 is installed")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=("search", "prototypes"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    sizes = (10_000, 100_000)
    if args.memory_child:
        _memory_child(args.memory_child)
        return
    if args.part == "search":
        print(json.dumps(search_rows(sizes, repeats)))
        return
    if args.part == "prototypes":
        print(json.dumps(prototype_rows(10_000, repeats)))
        return
    from measure import machine_description

    quick = ["--quick"] if args.quick else []
    implementations = [("ours", None)] + ([("Xplique 2.0.2", args.upstream)]
                                           if args.upstream else [])
    results = {name: {"search": _child(["--part", "search"] + quick, path),
                      "prototypes": _child(["--part", "prototypes"] + quick, path)}
               for name, path in implementations}
    if not args.no_memory:
        for name, path in implementations:
            results[name]["memory"] = [_child(["--memory-child", str(count)], path)
                                       for count in sizes]
    print(f"Machine: {machine_description()}\n")
    names = [name for name, _ in implementations]
    header = " | ".join(f"{name} build s | {name} first explain s | {name} explain s"
                        for name in names)
    print(f"| search (100 inputs, k=10, batch_size=4096) | cases | {header} |")
    print("|---|---|" + "---|---|---|" * len(names))
    for row, entry in enumerate(results["ours"]["search"]):
        cells = []
        for name in names:
            found = results[name]["search"]
            if not isinstance(found, list):
                cells.append(f"{_failed(found)} | | ")
                continue
            cells.append(" | ".join(f"{value:.3f}" for value in found[row][2:5]))
        print(f"| {entry[0]} | {entry[1]} | {' | '.join(cells)} |")
    print(f"\n| prototypes (10 global, batch_size=2048) | cases | "
          f"{' | '.join(name + ' s' for name in names)} |")
    print("|---|---|" + "---|" * len(names))
    for row, entry in enumerate(results["ours"]["prototypes"]):
        cells = []
        for name in names:
            found = results[name]["prototypes"]
            cells.append(f"{found[row][2]:.2f}" if isinstance(found, list) else _failed(found))
        print(f"| {entry[0]} | {entry[1]} | {' | '.join(cells)} |")
    if not args.no_memory:
        header = " | ".join(f"{name} search MiB | {name} build MiB" for name in names)
        print(f"\n| peak memory, 64-dim cases | cases | {header} |")
        print("|---|---|" + "---|---|" * len(names))
        for row, count in enumerate(sizes):
            cells = []
            for name in names:
                found = results[name]["memory"][row]
                cells.append(f"{found['search_mib']:.1f} | {found['build_mib']:.1f}"
                             if found and "search_mib" in found else f"{_failed(found)} | ")
            print(f"| SimilarExamples | {count} | {' | '.join(cells)} |")


def _failed(found) -> str:
    if found is None:
        return f"timeout ({TIMEOUT} s)"
    return "fails: " + " ".join(found.get("error", []))[:60]


if __name__ == "__main__":
    main()

"""The concept calls of ours against Xplique 2.0.2, side by side (`concepts.py --upstream`).

Both packages are named `xplique`, so each implementation runs in its own fresh process
(workers.py): `python concepts_xplique.py --worker <config>` with the reference's folder first
on PYTHONPATH, or the repository root for ours. Each process builds the same seeded model and
images and times `Cav.fit` ("SGD", and "mean" for ours: Xplique has none), `Tcav.score`,
`CraftTf.fit` and `CraftTf.estimate_importance` (medians of `repeats` calls after one warm-up
call); :func:`compare` alternates the two processes `--rounds` times and prints the table.
"""

import argparse
import statistics
from pathlib import Path

import keras
from concepts import BATCH_SIZE, split_model
from measure import machine_description, make_data, median_seconds
from models import MODELS
from workers import ROOT, run_in_fresh_process, serve, xplique_env

RESULT = "CONCEPTS-RESULT "


def worker(config):
    """In a fresh process: time the concept calls of the `xplique` found on the path (ours
    when `config["ours"]`, else the reference, which takes no `seed`)."""
    import xplique  # pylint: disable=import-outside-toplevel
    from xplique.concepts import Cav, CraftTf, Tcav  # pylint: disable=import-outside-toplevel

    ours, n, repeats = config["ours"], config["n"], config["repeats"]
    found = Path(xplique.__file__).resolve().parent
    expected = (ROOT if ours else Path(config["upstream"]).resolve()) / "xplique"
    if found != expected:
        return {"error": f"imported {found}, not {expected}"}
    result = {"xplique": str(found)}
    seed = {"seed": 0} if ours else {}
    model = MODELS[config["model"]][0]()
    shape = MODELS[config["model"]][1]
    images, _ = make_data(config["model"], 2 * n)
    positives, negatives = images[:n], images[n:]
    keras.utils.set_random_seed(0)
    classifiers = ("SGD", "mean") if ours else ("SGD",)
    for classifier in classifiers:
        cav = Cav(model, "last_conv", classifier=classifier, batch_size=BATCH_SIZE, **seed)
        result[f"Cav fit ({classifier})"] = median_seconds(
            lambda: cav.fit(positives, negatives), repeats)
    vector = Cav(model, "last_conv", classifier="SGD", batch_size=BATCH_SIZE, **seed)(
        positives, negatives)
    tcav = Tcav(model, "last_conv", batch_size=BATCH_SIZE)
    result["Tcav score"] = median_seconds(lambda: tcav.score(positives, 0, vector), repeats)
    parts = split_model(model, "last_conv")
    if parts is not None:
        craft = CraftTf(parts[0], parts[1], number_of_concepts=config["concepts"],
                        batch_size=BATCH_SIZE, patch_size=shape[0] // 2)
        result["Craft fit"] = median_seconds(lambda: craft.fit(positives, class_id=0),
                                             repeats)
        result["Craft estimate_importance"] = median_seconds(
            lambda: craft.estimate_importance(nb_design=config["nb_design"], **seed), repeats)
    return result


def run_worker(config, upstream):
    """Run :func:`worker` in a fresh process, the reference's with `upstream` first on
    PYTHONPATH, ours with the repository root first."""
    env = xplique_env(None if config["ours"] else upstream)
    result, last = run_in_fresh_process(Path(__file__).resolve(), config, env, RESULT)
    return result if result is not None else {"error": last[:200]}


def _median_of_rounds(results):
    """Per call, the median over the rounds' results (an error string wins)."""
    merged = {}
    for name in results[0]:
        values = [result.get(name) for result in results]
        merged[name] = statistics.median(values) if all(
            isinstance(v, float) for v in values) else values[0]
    return merged


def compare(args, n, repeats, nb_design, concepts):
    """Ours against the reference, side by side."""
    print(machine_description())
    print(f"N={n} positives and negatives, {concepts} concepts, nb_design={nb_design}, "
          f"batch_size={BATCH_SIZE}, median of {repeats} calls after a warm-up call, "
          f"median over {args.rounds} alternating rounds of fresh processes")
    print("| model | call | ours (s) | Xplique 2.0.2 (s) | speed-up |")
    print("|---|---|---|---|---|")
    for model_name in args.models.split(","):
        config = dict(model=model_name, n=n, repeats=repeats, nb_design=nb_design,
                      concepts=concepts)
        config["upstream"] = str(args.upstream)
        rounds = [(run_worker(dict(config, ours=True), args.upstream),
                   run_worker(dict(config, ours=False), args.upstream))
                  for _ in range(args.rounds)]  # alternate, so load changes hit both
        ours, theirs = (_median_of_rounds([r[side] for r in rounds]) for side in (0, 1))
        for name in ("Cav fit (SGD)", "Cav fit (mean)", "Tcav score", "Craft fit",
                     "Craft estimate_importance"):
            mine = ours.get(name, ours.get("error", "n/a"))
            reference = theirs.get(name, theirs.get("error", "n/a"))
            both = isinstance(mine, float) and isinstance(reference, float)
            cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in (mine, reference)]
            ratio = f"{reference / mine:.2f}x" if both else ""
            print(f"| {model_name} | {name} | {cells[0]} | {cells[1]} | {ratio} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", required=True, help="the configuration, as JSON")
    serve(worker, parser.parse_args().worker, RESULT)

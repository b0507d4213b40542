"""Speed of the concepts module against the model-evaluation floor (run by hand).

Usage::

    python benchmarks/concepts.py [--models small_cnn,resnet_like] [--quick] [--threads 1]
        [--importance-only]
    python benchmarks/concepts.py --upstream /tmp/xplique-upstream [--models ...] [--quick]
        [--repeats K] [--rounds K]

Timed calls (median of `--repeats` after one warm-up call that absorbs tracing):

- `Cav.fit` with "SGD" and "mean" at `last_conv` on N positives and N negatives;
- `Tcav.score` on N inputs;
- `CraftTf.fit` (scikit-learn's NMF and `nmf="tf"`) and `CraftTf.estimate_importance` with
  the model cut at `last_conv` (when the layers after it form a chain).

Floors, measured with compiled bare passes at the same batch size (benchmarks/measure.py;
interleaved with the call where the row says so):
Cav = 2N forward passes of the model truncated at the layer; Tcav = N forward+backward passes
of the whole model; Craft fit = the crops' forward passes of `g`; Craft importance = the
`N nb_design (R + 2)` forward passes of `h`. The SGD fit and the NMF add solver time, and the
importance adds `transform` (a pass of `g` and an NMF solve) and the reconstruction `U W` of
every perturbed latent, which no model floor covers. Numbers are provisional on a shared CPU.

`CraftTf.estimate_importance` is timed interleaved with three floors (each repeat runs them
and the call and its parts in turn; medians of wall and process CPU time): `h` alone on the
perturbed latents (the floor above), `U W + h` (the same passes fed by the reconstruction
`(U * m) W` of each chunk, one compiled tensordot: the work no implementation can skip when `h`
is a black box) and `g` on the `N` images (the `transform` inside the call). Rows: the whole
call against `h` alone and against `g + U W + h`, the design scores (the model-evaluation
part) against `h` alone and `U W + h`, `transform` against `g`, and the Jansen estimator.
`--importance-only` runs only these rows; `--threads 1` (TensorFlow intra- and inter-op
threads) makes the CPU-time ratios measure work on a shared machine.

`CraftTf.fit` is also split into its three parts, timed interleaved in one process (each
repeat runs the floor and each part in turn; medians of wall time and of process CPU time):
cutting and resizing the crops (no model evaluation), the activations of the crops (the
model-evaluation part, against its floor: the same crops through a bare compiled `g` in
chunks of `batch_size`, outputs fetched to the host), and the NMF (solver only).

`--upstream PATH` times the same calls side by side with Xplique 2.0.2 installed at PATH (see
compare_xplique.py for the install command): as there, both packages are named `xplique`, so
each implementation runs in its own fresh subprocess (concepts_xplique.py; the reference with
PATH first on PYTHONPATH), with the same seeded model, images, layer, concepts, patch size,
`batch_size` and `nb_design`; times are medians of `--repeats` calls after one warm-up call.
Xplique has no "mean" CAV (n/a).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from measure import Bare, machine_description, make_data, median_seconds  # noqa: E402
from models import MODELS  # noqa: E402

BATCH_SIZE = 64
ROOT = Path(__file__).resolve().parent.parent


def interleaved(fns, repeats):
    """Medians `{name: (wall s, cpu s)}` of the callables `fns`, run in turn per repeat
    after one warm-up call each, so that a change of machine load hits them all alike."""
    for fn in fns.values():
        fn()
    times = {name: ([], []) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name][0].append(time.perf_counter() - wall)
            times[name][1].append(time.process_time() - cpu)
    return {name: (statistics.median(w), statistics.median(c))
            for name, (w, c) in times.items()}


def craft_fit_parts(craft, g, images, shape, repeats):
    """Rows of the three parts of `craft.fit(images)` (crops, activations of the crops
    against their floor, NMF), interleaved; the wall ratio, then the CPU-time ratio."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    # pylint: disable-next=import-outside-toplevel
    from xplique.commons.threads import single_threaded_blas

    crops = craft._crops(images)  # pylint: disable=protected-access
    crop_tensor = tf.constant(crops)
    pooled = craft._latents(crops).mean(axis=(1, 2))  # pylint: disable=protected-access
    pooled = pooled.reshape(len(pooled), -1).astype(np.float64)
    spec = tf.TensorSpec((None,) + tuple(shape), tf.float32)
    bare_g = tf.function(lambda x: g(x, training=False), input_signature=[spec])

    def floor_g():
        for start in range(0, len(crops), BATCH_SIZE):
            np.asarray(bare_g(crop_tensor[start:start + BATCH_SIZE]))

    def nmf():  # as in fit: one BLAS thread (see commons.threads)
        with single_threaded_blas():
            craft._new_reducer().fit_transform(pooled)  # pylint: disable=protected-access

    medians = interleaved({
        "floor": floor_g,
        "fit": lambda: craft.fit(images, class_id=0),
        "crops": lambda: craft._crops(images),  # pylint: disable=protected-access
        "activations": lambda: craft._latents(crops),  # pylint: disable=protected-access
        "nmf": nmf,
    }, repeats)
    floor_wall, floor_cpu = medians["floor"]
    return [
        (f"Craft fit, whole ({len(crops)} crops; cpu ratio "
         f"{medians['fit'][1] / floor_cpu:.2f}x)", medians["fit"][0], floor_wall),
        ("Craft fit: crops (cut + resize, no model)", medians["crops"][0], None),
        (f"Craft fit: activations of the {len(crops)} crops (model part; cpu ratio "
         f"{medians['activations'][1] / floor_cpu:.2f}x)", medians["activations"][0],
         floor_wall),
        ("Craft fit: NMF (solver, no model)", medians["nmf"][0], None),
    ]


def craft_importance_parts(craft, g, h, images, nb_design, repeats):
    """Rows of `craft.estimate_importance(nb_design=nb_design)` and of its parts, interleaved
    with their floors (medians of wall and process CPU time; the wall ratio, then the CPU one).

    Floors, compiled bare passes in chunks of `batch_size`, outputs fetched to the host:
    `h` on the `N nb_design (R + 2)` perturbed latents (the issue's floor); `U W + h`, the same
    passes fed by the reconstruction `(U * m) W` of each chunk (one compiled tensordot), the
    work no implementation can skip when `h` is a black box; `g` on the `N` images (the
    `transform` inside the call). The whole call is compared with `h` alone and with the sum
    of the three floors' work (`g` + `U W + h`).
    """
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    # pylint: disable-next=import-outside-toplevel
    from xplique.attributions.global_sensitivity_analysis import samplers, sobol_estimators

    concepts = craft.number_of_concepts
    bank = craft.factorization.concept_bank_w
    coeffs = craft.transform(images)
    masks = samplers.HaltonSequenceRS(seed=0)(concepts, nb_design)
    evaluations = len(images) * len(masks)
    passes = -(-evaluations // BATCH_SIZE)
    latent_shape = tuple(g.output.shape[1:])
    image_tensor = tf.constant(images)
    latent_spec = tf.TensorSpec((None,) + latent_shape, tf.float32)
    bare_h = tf.function(lambda x: h(x, training=False), input_signature=[latent_spec])
    bare_g = tf.function(lambda x: g(x, training=False),
                         input_signature=[tf.TensorSpec((None,) + images.shape[1:], tf.float32)])
    latents = tf.random.stateless_uniform((BATCH_SIZE,) + latent_shape, seed=(1, 2))
    rows = np.arange(BATCH_SIZE) % len(masks)
    chunk_u = tf.constant(coeffs[np.arange(BATCH_SIZE) // len(masks) % len(coeffs)])
    chunk_m = tf.constant(masks[rows])
    bank_t = tf.constant(bank)
    mask_shape = [-1] + [1] * (coeffs.ndim - 2) + [concepts]

    @tf.function(input_signature=[tf.TensorSpec((None,) + coeffs.shape[1:], tf.float32),
                                  tf.TensorSpec((None, concepts), tf.float32)])
    def bare_uw_h(u, m):
        perturbed = u * tf.reshape(m, mask_shape)
        return h(tf.tensordot(perturbed, bank_t, axes=[[-1], [0]]), training=False)

    def floor_h():
        for _ in range(passes):
            np.asarray(bare_h(latents))

    def floor_uw_h():
        for _ in range(passes):
            np.asarray(bare_uw_h(chunk_u, chunk_m))

    def floor_g():
        for start in range(0, len(images), BATCH_SIZE):
            np.asarray(bare_g(image_tensor[start:start + BATCH_SIZE]))

    scores = craft._design_scores(coeffs, masks, bank, 0)  # pylint: disable=protected-access
    medians = interleaved({
        "floor h": floor_h,
        "floor UW+h": floor_uw_h,
        "floor g": floor_g,
        "whole": lambda: craft.estimate_importance(nb_design=nb_design, seed=0),
        "transform": lambda: craft.transform(images),
        "scores": lambda: craft._design_scores(  # pylint: disable=protected-access
            coeffs, masks, bank, 0),
        "estimator": lambda: sobol_estimators.JansenEstimator()(masks, scores, nb_design),
    }, repeats)
    (h_wall, h_cpu), (uw_wall, uw_cpu), (g_wall, g_cpu) = (
        medians["floor h"], medians["floor UW+h"], medians["floor g"])
    whole_wall, whole_cpu = medians["whole"]
    work_wall, work_cpu = g_wall + uw_wall, g_cpu + uw_cpu
    return [
        (f"Craft estimate_importance, whole ({evaluations} evals) vs h alone (cpu ratio "
         f"{whole_cpu / h_cpu:.2f}x)", whole_wall, h_wall),
        (f"Craft estimate_importance, whole vs g + U W + h (cpu ratio "
         f"{whole_cpu / work_cpu:.2f}x)", whole_wall, work_wall),
        (f"Craft importance: design scores vs h alone (model part; cpu ratio "
         f"{medians['scores'][1] / h_cpu:.2f}x)", medians["scores"][0], h_wall),
        (f"Craft importance: design scores vs U W + h (cpu ratio "
         f"{medians['scores'][1] / uw_cpu:.2f}x)", medians["scores"][0], uw_wall),
        (f"Craft importance: transform vs g on the {len(images)} images (cpu ratio "
         f"{medians['transform'][1] / g_cpu:.2f}x)", medians["transform"][0], g_wall),
        ("Craft importance: Jansen estimator (no model)", medians["estimator"][0], None),
    ]


def split_model(model, layer_name):
    """`(g, h)` cut after `layer_name`, or None when the layers after it are not a chain."""
    layer = model.get_layer(layer_name)
    g = keras.Model(model.inputs, layer.output)
    latent = keras.Input(tuple(layer.output.shape[1:]))
    index = model.layers.index(layer)
    x = latent
    try:
        for following in model.layers[index + 1:]:
            inbound = following._inbound_nodes[0].parent_nodes  # pylint: disable=W0212
            if len(inbound) != 1:
                return None
            x = following(x)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None
    return g, keras.Model(latent, x)


def floor(model, shape, kind, evaluations, repeats=3):
    bare = Bare(model, shape)
    bare.seconds_per_evaluation(kind, BATCH_SIZE, passes=1)  # warm-up: tracing
    per_evaluation = statistics.median(
        bare.seconds_per_evaluation(kind, BATCH_SIZE, passes=max(1, evaluations // BATCH_SIZE))
        for _ in range(repeats)
    )
    return per_evaluation * evaluations


def run(model_name, n, repeats, nb_design, concepts, importance_only=False):
    from xplique.concepts import Cav, CraftTf, Tcav  # pylint: disable=import-outside-toplevel

    build, shape = MODELS[model_name][0], MODELS[model_name][1]
    model = build()
    images, labels = make_data(model_name, 2 * n)
    positives, negatives = images[:n], images[n:]
    truncated = keras.Model(model.inputs, model.get_layer("last_conv").output)
    rows = []
    if importance_only:
        parts = split_model(model, "last_conv")
        if parts is None:
            return [("Craft", None, None)]
        craft = CraftTf(*parts, number_of_concepts=concepts, batch_size=BATCH_SIZE,
                        patch_size=shape[0] // 2)
        craft.fit(positives, class_id=0)
        return craft_importance_parts(craft, *parts, positives, nb_design, max(repeats, 5))

    cav_floor = floor(truncated, shape, "forward", 2 * n)
    for classifier in ("mean", "SGD"):
        cav = Cav(model, "last_conv", classifier=classifier, batch_size=BATCH_SIZE, seed=0)
        seconds = median_seconds(lambda: cav.fit(positives, negatives), repeats)
        rows.append((f"Cav fit ({classifier})", seconds, cav_floor))

    tcav = Tcav(model, "last_conv", batch_size=BATCH_SIZE)
    vector = Cav(model, "last_conv", classifier="mean")(positives, negatives)
    bare = Bare(model, shape)
    medians = interleaved({
        "floor": lambda: bare.seconds_per_evaluation("gradient", BATCH_SIZE,
                                                     passes=max(1, n // BATCH_SIZE)),
        "tcav": lambda: tcav.score(positives, 0, vector),
    }, max(repeats, 5))
    rows.append((f"Tcav score (interleaved; cpu ratio "
                 f"{medians['tcav'][1] / medians['floor'][1]:.2f}x)", medians["tcav"][0],
                 medians["floor"][0]))

    parts = split_model(model, "last_conv")
    if parts is None:
        rows.append(("Craft", None, None))
        return rows
    g, h = parts
    patch = shape[0] // 2
    craft = CraftTf(g, h, number_of_concepts=concepts, batch_size=BATCH_SIZE, patch_size=patch)
    rows.extend(craft_fit_parts(craft, g, positives, shape, max(repeats, 5)))
    crops = len(craft.factorization.crops)
    on_device = CraftTf(g, h, number_of_concepts=concepts, batch_size=BATCH_SIZE,
                        patch_size=patch, nmf="tf")
    seconds_tf = median_seconds(lambda: on_device.fit(positives, class_id=0), repeats)
    rows.append((f"Craft fit, nmf='tf' ({crops} crops)", seconds_tf,
                 floor(g, shape, "forward", crops)))
    rows.extend(craft_importance_parts(craft, g, h, positives, nb_design, max(repeats, 5)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="small_cnn,resnet_like")
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repeats")
    parser.add_argument("--upstream", default=None,
                        help="folder of Xplique 2.0.2: compare with it side by side")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measure")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --upstream: alternate ours/Xplique's processes this often")
    parser.add_argument("--importance-only", action="store_true",
                        help="time only CraftTf.estimate_importance and its parts")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra- and inter-op threads (0: TensorFlow's default);"
                             " with 1 the CPU-time ratios measure work on a shared machine")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # this repository's `xplique`, imported by the timed calls
    if args.threads:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    n, repeats, nb_design = (64, 2, 8) if args.quick else (256, 5, 32)
    repeats = repeats if args.repeats is None else args.repeats
    if args.upstream is not None:
        from concepts_xplique import compare  # pylint: disable=import-outside-toplevel

        compare(args, n, repeats, nb_design, 10)
        return
    print(machine_description())
    print(f"threads: {args.threads or 'default'}")
    print("| model | call | time (s) | floor (s) | ratio |")
    print("|---|---|---|---|---|")
    for model_name in args.models.split(","):
        for name, seconds, floor_seconds in run(model_name, n, repeats, nb_design, 10,
                                                args.importance_only):
            if seconds is None:
                print(f"| {model_name} | {name} | n/a (layers after last_conv not a chain) "
                      "| | |")
                continue
            if floor_seconds is None:  # a part that evaluates no model
                print(f"| {model_name} | {name} | {seconds:.3f} | | |")
                continue
            print(f"| {model_name} | {name} | {seconds:.3f} | {floor_seconds:.3f} | "
                  f"{seconds / floor_seconds:.2f}x |")


if __name__ == "__main__":
    main()

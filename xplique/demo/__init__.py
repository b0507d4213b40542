"""The `python -m xplique demo` job: every attribution method on a small digits CNN.

A CNN (Conv2D+ReLU layers, GlobalAveragePooling2D, a Dense "logits" layer, a Softmax "probs"
layer) is trained in seconds on scikit-learn's bundled 8x8 digits (no download), or loaded from
the cache folder. A few test digits are then explained with every method that
:func:`xplique.cli.available_methods` discovers, each with the demo-friendly parameters of
:func:`demo_parameters`. The output folder receives `attributions.png` (one row per digit,
labelled with its true and predicted class: the digit, then one heatmap per method with its
colour bar; split into `attributions-1.png`, `attributions-2.png`, ... when one figure would be
wider than 2000 px), one `<name>.png` per panel of :data:`PANELS` (other modules' demos) and
`summary.json` (accuracy, per method the parameters, time, output shape and error if it failed,
per panel its title, figure, summary and error).

matplotlib is imported lazily (figures are drawn on `matplotlib.figure.Figure`, no pyplot).
"""

import importlib
import inspect
import json
import os
import sys
import time
import types
from typing import Dict, List, Optional, Tuple

import numpy as np

from xplique.cli import EXIT_FAILED, EXIT_OK, available_methods, find_method, one_line

#: Version of the demo model; bump it when the architecture or the training changes.
MODEL_VERSION = 1
SEED = 0

#: Parameters given to every method that accepts them: explain the logits (not the saturated
#: softmax) and evaluate many small 8x8 inputs per pass.
COMMON_PARAMETERS = {"output_layer": "logits", "batch_size": 256}

#: Demo-friendly settings by class name, so that all methods run in seconds on 8x8 digits.
#: Each is used only when the method's constructor accepts it; other methods keep defaults.
METHOD_PARAMETERS = {
    "IntegratedGradients": {"steps": 32},
    "SmoothGrad": {"nb_samples": 32, "noise": 0.1},
    "SquareGrad": {"nb_samples": 32, "noise": 0.1},
    "VarGrad": {"nb_samples": 32, "noise": 0.1},
    "Occlusion": {"patch_size": 2, "patch_stride": 1},
    "Rise": {"nb_samples": 1000, "grid_size": 4},
    "Lime": {"nb_samples": 300},
    "KernelShap": {"nb_samples": 300},
    "SobolAttributionMethod": {"grid_size": 4, "nb_design": 32},
    "HsicAttributionMethod": {"grid_size": 4, "nb_design": 256},
}


def default_cache_dir() -> str:
    """`$XPLIQUE_CACHE` if set, else `~/.cache/xplique/demo`."""
    return os.environ.get("XPLIQUE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "xplique", "demo"
    )


def demo_parameters(cls: type) -> Dict:
    """The parameters the demo passes to `cls`: the overrides its constructor accepts, and
    `seed=0` when it has a seed."""
    accepted = inspect.signature(cls).parameters
    wanted = dict(COMMON_PARAMETERS, **METHOD_PARAMETERS.get(cls.__name__, {}))
    if "seed" in accepted:
        wanted["seed"] = SEED
    return {name: value for name, value in wanted.items() if name in accepted}


# --------------------------------------------------------------------------- data and model


def load_data() -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as `(N, 8, 8, 1)` float32 in [0, 1]; a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    return tuple(
        train_test_split(
            images, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target
        )
    )


def build_model():
    """The demo CNN: convolutions, global average pooling, logits, softmax."""
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((8, 8, 1), name="digit")
    hidden = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    hidden = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(hidden)
    hidden = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(hidden)
    hidden = keras.layers.GlobalAveragePooling2D(name="pool")(hidden)
    logits = keras.layers.Dense(10, name="logits")(hidden)
    probs = keras.layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name="digits_cnn")


def model_path(cache: str, epochs: int) -> str:
    return os.path.join(cache, f"digits-cnn-v{MODEL_VERSION}-e{epochs}.keras")


def get_model(cache: str, epochs: int, x_train, y_train):
    """Load the cached model trained for `epochs`, or train and cache it.

    Returns `(model, path, loaded_from_cache, seconds)`.
    """
    import keras

    start = time.perf_counter()
    path = model_path(cache, epochs)
    if os.path.isfile(path):
        try:
            model = keras.models.load_model(path, compile=False)
            return model, path, True, time.perf_counter() - start
        except Exception as error:  # a damaged cache file: train again
            print(f"cached model {path} unreadable ({one_line(error)}); training again")
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    os.makedirs(cache, exist_ok=True)
    partial = f"{path[:-len('.keras')]}.partial-{os.getpid()}.keras"
    model.save(partial)
    os.replace(partial, path)  # atomic: readers never see a half-written model
    return model, path, False, time.perf_counter() - start


def pick_digits(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` test digits, cycling through the classes 0, 1, 2, ..."""
    if count > len(labels):
        raise ValueError(f"`samples` must be <= {len(labels)} (the test digits). Received: {count}")
    rank = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rank[where] = np.arange(len(where))
    return np.lexsort((labels, rank))[:count]


# --------------------------------------------------------------------------- explanations


def explain_all(model, inputs, targets, methods: Dict[str, type]):
    """Run every method; returns `(records, explanations)` by method name."""
    records, explanations = {}, {}
    for name, cls in methods.items():
        params = demo_parameters(cls)
        start = time.perf_counter()
        record = {"parameters": params}
        try:
            result = np.asarray(cls(model, **params)(inputs, targets))
            explanations[name] = result
            record.update(output_shape=list(result.shape), error=None)
            if not np.all(np.isfinite(result)):
                record["error"] = "explanations hold NaN or Inf values"
        except Exception as error:  # the demo reports every failure and carries on
            record.update(output_shape=None, error=f"{type(error).__name__}: {one_line(error)}")
        record["seconds"] = round(time.perf_counter() - start, 3)
        records[name] = record
    return records, explanations


def _effective_parameters(cls: type, params: Dict) -> Dict:
    signature = inspect.signature(cls).parameters
    merged = {
        name: parameter.default
        for name, parameter in signature.items()
        if name != "model" and parameter.default is not inspect.Parameter.empty
    }
    merged.update(params)
    return merged


# --------------------------------------------------------------------------- plotting

#: A grid figure is split so that none is wider than this, in pixels at dpi 100.
MAX_FIGURE_WIDTH_PX = 2000
DPI = 100
#: Size of one grid cell (a heatmap and its colour bar), in inches.
CELL_WIDTH, CELL_HEIGHT = 1.9, 1.6
#: Font sizes in points: at dpi 100 one point is 1.4 px, so titles are about 13 px tall.
TITLE_FONTSIZE, LABEL_FONTSIZE, TICK_FONTSIZE = 9, 9, 8


def _as_2d(sample: np.ndarray, kind) -> np.ndarray:
    from xplique.commons.shapes import Modality

    if kind is Modality.IMAGES:
        return sample.mean(axis=-1) if sample.ndim == 3 else sample
    if kind is Modality.TABULAR:
        return sample[None, :]
    return sample


def methods_per_figure(show_inputs: bool = True) -> int:
    """How many method columns fit in one figure of at most :data:`MAX_FIGURE_WIDTH_PX`."""
    columns = int((MAX_FIGURE_WIDTH_PX / DPI - 0.2) // CELL_WIDTH)
    return max(1, columns - int(show_inputs))


def grid_paths(path: str, nb_figures: int) -> List[str]:
    """`path` itself for one figure, else `stem-1.png`, `stem-2.png`, ..."""
    if nb_figures <= 1:
        return [path]
    stem, extension = os.path.splitext(path)
    return [f"{stem}-{index}{extension or '.png'}" for index in range(1, nb_figures + 1)]


def _grid_figure(inputs, kind, columns, row_labels):
    """One figure of the grid: the inputs (images only) then one column per method."""
    from matplotlib.figure import Figure

    from xplique.commons.shapes import Modality
    from xplique.plots.common import add_colorbar, color_scale, is_signed

    show_inputs = kind is Modality.IMAGES
    nb_columns = len(columns) + int(show_inputs)
    figure = Figure(figsize=(CELL_WIDTH * nb_columns + 0.2, CELL_HEIGHT * len(inputs) + 0.3),
                    layout="constrained")
    axes = figure.subplots(len(inputs), nb_columns, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if show_inputs:
        axes[0, 0].set_title("input", fontsize=TITLE_FONTSIZE)
        for row, image in enumerate(inputs):
            shown = image if image.shape[-1] == 3 else image.mean(axis=-1)
            low, high = float(shown.min()), float(shown.max())
            axes[row, 0].imshow(shown, cmap="gray", vmin=low, vmax=high if high > low else low + 1,
                                interpolation="nearest")
            if row_labels:
                axes[row, 0].set_ylabel(row_labels[row], fontsize=LABEL_FONTSIZE)
    for offset, (name, explanations) in enumerate(columns.items()):
        column = offset + int(show_inputs)
        if explanations is None:
            axes[0, column].set_title(f"{name}\n(failed)", fontsize=TITLE_FONTSIZE, color="red")
            for row in range(len(inputs)):
                axes[row, column].set_axis_off()
            continue
        maps = [_as_2d(np.asarray(sample, float), kind) for sample in explanations]
        signed = is_signed(np.stack(maps))  # one decision per method, all rows alike
        kind_name = "signed" if signed else "unsigned"
        axes[0, column].set_title(f"{name}\n({kind_name})", fontsize=TITLE_FONTSIZE)
        for row, heatmap in enumerate(maps):
            ax = axes[row, column]
            scale = color_scale(heatmap, signed=signed)
            shown = ax.imshow(heatmap, cmap=scale.cmap, vmin=scale.vmin, vmax=scale.vmax,
                              interpolation="nearest")
            add_colorbar(figure, shown, ax, scale, fontsize=TICK_FONTSIZE)
            if not show_inputs and row_labels and offset == 0:
                ax.set_ylabel(row_labels[row], fontsize=LABEL_FONTSIZE)
    return figure


def grid_figures(inputs: np.ndarray, columns: Dict[str, Optional[np.ndarray]],
                 row_labels: Optional[List[str]] = None) -> list:
    """The attribution grid as matplotlib figures (see :func:`save_grid`), each at most
    :data:`MAX_FIGURE_WIDTH_PX` wide at :data:`DPI`."""
    from xplique.commons.shapes import Modality, modality

    inputs = np.asarray(inputs)
    kind = modality(inputs)
    names = list(columns)
    per_figure = methods_per_figure(kind is Modality.IMAGES)
    chunks = [names[i:i + per_figure] for i in range(0, len(names), per_figure)] or [[]]
    return [_grid_figure(inputs, kind, {n: columns[n] for n in chunk}, row_labels)
            for chunk in chunks]


def save_grid(path: str, inputs: np.ndarray, columns: Dict[str, Optional[np.ndarray]],
              row_labels: Optional[List[str]] = None) -> List[str]:
    """Save the attribution grid as PNG: one row per input (labelled by `row_labels`), the
    input first (images only), then one heatmap per column (a titled method; None marks a
    failed method), each with its own colour bar.

    Signed methods (both signs present, see :func:`xplique.plots.common.is_signed`) use a
    diverging colormap centred on zero, unsigned ones a sequential colormap. A grid wider than
    :data:`MAX_FIGURE_WIDTH_PX` is split into several figures, each repeating the inputs:
    `attributions-1.png`, `attributions-2.png`, ... Returns the paths written.
    """
    figures = grid_figures(inputs, columns, row_labels)
    paths = grid_paths(path, len(figures))
    for figure, figure_path in zip(figures, paths):
        figure.savefig(figure_path, dpi=DPI)
    return paths


# --------------------------------------------------------------------------- panels

#: Demo modules under `xplique.demo` that add a panel, in order. Each exposes `TITLE` (str)
#: and `panel(context) -> {"figure": matplotlib Figure, "summary": json-able dict}`; the
#: runner saves the figure as `<out>/<name>.png` and the summary under "panels" in
#: summary.json. The attribution grid itself is always drawn.
PANELS: Tuple[str, ...] = ("lrp", "concepts", "feature_visualization", "example_based")


def make_context(model, x_train, y_train, x_test, y_test, inputs, labels, predicted):
    """What every panel receives: the trained model, the data, and the explained digits."""
    return types.SimpleNamespace(
        model=model, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        inputs=inputs, labels=labels, predicted=predicted, seed=SEED,
    )


def run_panel(name: str, context, out: str) -> Dict:
    """Import `xplique.demo.<name>`, draw its panel and save it; returns its record (title,
    figure file, summary, seconds, error). Never raises: a failing panel is reported like a
    failing method."""
    start = time.perf_counter()
    record = {"title": None, "figure": None, "summary": None, "error": None}
    try:
        module = importlib.import_module(f"{__name__}.{name}")
        record["title"] = str(module.TITLE)
        result = module.panel(context)
        if not isinstance(result, dict) or "figure" not in result:
            raise TypeError("panel(context) must return {'figure': Figure, 'summary': dict}. "
                            f"Received: {type(result).__name__}")
        summary = result.get("summary", {})
        json.dumps(summary)  # a summary that cannot be written is the panel's error
        figure_path = os.path.join(out, f"{name}.png")
        result["figure"].savefig(figure_path, dpi=DPI)
        record.update(figure=os.path.basename(figure_path), summary=summary)
    except Exception as error:  # the demo reports every failure and carries on
        record["error"] = f"{type(error).__name__}: {one_line(error)}"
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


# --------------------------------------------------------------------------- the job


def run(out: str, cache: str, samples: int = 4, epochs: int = 12,
        methods: Optional[List[str]] = None) -> int:
    """Train or load the model, explain `samples` test digits, draw the grid and the panels of
    :data:`PANELS`, write the PNGs and the JSON.

    Returns the exit code: 0, or 1 when a method or a panel failed.
    """
    from xplique import __version__

    start = time.perf_counter()
    if methods:
        chosen = {cls.__name__: cls for cls in map(find_method, methods)}
    else:
        chosen = available_methods()
    x_train, x_test, y_train, y_test = load_data()
    indices = pick_digits(y_test, samples)
    model, path, cached, model_seconds = get_model(cache, epochs, x_train, y_train)
    probabilities = np.asarray(model(x_test, training=False))
    accuracy = float(np.mean(np.argmax(probabilities, axis=-1) == y_test))
    state = "loaded from" if cached else f"trained ({epochs} epochs, {model_seconds:.1f} s) to"
    print(f"model {state} {path}; test accuracy {accuracy:.3f}")

    inputs, labels = x_test[indices], y_test[indices]
    records, explanations = explain_all(model, inputs, labels, chosen)
    for name, record in records.items():
        record["parameters"] = _effective_parameters(chosen[name], record["parameters"])
        outcome = record["error"] or f"shape {tuple(record['output_shape'])}"
        print(f"  {name:<24} {record['seconds']:7.2f} s  {outcome}")

    os.makedirs(out, exist_ok=True)
    predicted = np.argmax(probabilities[indices], axis=-1)
    row_labels = [f"true {t}, pred {p}" for t, p in zip(labels, predicted)]
    image_paths = save_grid(os.path.join(out, "attributions.png"), inputs,
                            {n: explanations.get(n) for n in records}, row_labels)

    context = make_context(model, x_train, y_train, x_test, y_test, inputs, labels, predicted)
    panels = {}
    for name in PANELS:
        panels[name] = run_panel(name, context, out)
        outcome = panels[name]["error"] or panels[name]["figure"]
        print(f"  {'panel ' + name:<24} {panels[name]['seconds']:7.2f} s  {outcome}")

    failed = [name for name, record in records.items() if record["error"]]
    failed_panels = [name for name, record in panels.items() if record["error"]]
    summary = {
        "xplique_version": __version__,
        "model": {
            "path": path,
            "loaded_from_cache": cached,
            "epochs": epochs,
            "seconds": round(model_seconds, 3),
            "test_accuracy": accuracy,
            "test_size": int(len(y_test)),
        },
        "inputs": {
            "test_indices": indices.tolist(),
            "labels": labels.tolist(),
            "predicted": predicted.tolist(),
            "shape": list(inputs.shape),
        },
        "methods": records,
        "failed": failed,
        "figures": [os.path.basename(p) for p in image_paths],
        "panels": panels,
        "failed_panels": failed_panels,
        "total_seconds": round(time.perf_counter() - start, 3),
    }
    summary_path = os.path.join(out, "summary.json")
    with open(summary_path, "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2, default=repr)
    written = ", ".join(summary["figures"] + [r["figure"] for r in panels.values() if r["figure"]])
    print(f"wrote {written} and summary.json to {out} in {summary['total_seconds']:.1f} s")
    if failed:
        print(f"xplique: demo: failed methods: {', '.join(failed)}", file=sys.stderr)
    if failed_panels:
        print(f"xplique: demo: failed panels: {', '.join(failed_panels)}", file=sys.stderr)
    return EXIT_FAILED if failed or failed_panels else EXIT_OK

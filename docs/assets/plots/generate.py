"""Render the example figures of docs/plots.md (run from the repository root):

    python docs/assets/plots/generate.py

Tiny synthetic data and an untrained model: the figures show what each plot looks like, not a
finding. Every file is written small (low dpi) to keep the repository light.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from xplique.attributions import GradientInput, Saliency, SmoothGrad  # noqa: E402
from xplique.metrics import Deletion, Insertion, MuFidelity  # noqa: E402
from xplique.plots import (  # noqa: E402
    barplot,
    fidelity_curves,
    plot_attributions,
    plot_feature_impact,
    plot_timeseries_attributions,
    summary_plot_tabular,
)

OUT = Path(__file__).resolve().parent
DPI = 60


def blob_images(n, size=32, seed=0):
    """Images of one coloured Gaussian blob each, on a dark background."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
    centres = rng.uniform(8, size - 8, (n, 1, 1, 2))
    blobs = np.exp(-np.sum((grid[None] - centres) ** 2, -1) / 30.0)
    colours = rng.uniform(0.3, 1.0, (n, 1, 1, 3))
    return (0.1 + 0.9 * blobs[..., None] * colours).astype("float32")


def image_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 5, activation="relu", padding="same"),
        keras.layers.AveragePooling2D(4),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])


def save(figure, name, dpi=DPI):
    figure.savefig(OUT / name, dpi=dpi, bbox_inches="tight")


def main():
    images = blob_images(5)
    model = image_model()
    labels = np.argmax(model(images).numpy(), 1)
    explainers = {"Saliency": Saliency(model), "GradientInput": GradientInput(model),
                  "SmoothGrad": SmoothGrad(model, nb_samples=16, seed=0)}
    explanations = {name: e(images, labels) for name, e in explainers.items()}
    # the default colours: Gradient x Input is signed, so a diverging map centred on zero;
    # written at dpi 100 so that the colour-bar labels stay readable at 100% zoom
    save(plot_attributions(explanations["GradientInput"], images, img_size=2.0),
         "attributions.png", dpi=100)

    deletion = Deletion(model, images, labels, steps=16, activation="softmax")
    insertion = Insertion(model, images, labels, steps=16, activation="softmax")
    mufidelity = MuFidelity(model, images, labels, grid_size=8, nb_samples=64, seed=0)
    scores = {"Deletion": {}, "Insertion": {}, "MuFidelity": {}}
    for name, phi in explanations.items():
        scores["Deletion"][name] = deletion(phi)
        scores["Insertion"][name] = insertion(phi)
        scores["MuFidelity"][name] = mufidelity(phi)
    save(barplot(scores, sort_metric="Insertion"), "barplot.png")
    save(fidelity_curves({name: deletion.detailed_evaluate(phi)
                          for name, phi in explanations.items()}, title="Deletion"),
         "fidelity_curves.png")

    rng = np.random.default_rng(1)
    names = ["age", "income", "debt", "tenure", "score", "region"]
    tabular = rng.normal(size=(200, 6)).astype("float32")
    weights = np.array([1.5, -1.0, 0.6, 0.0, 0.3, -0.2], "float32")
    impacts = tabular * weights + rng.normal(scale=0.05, size=tabular.shape)
    save(plot_feature_impact(impacts[0], names, tabular[0]), "feature_impact.png")
    save(summary_plot_tabular(impacts, tabular, names), "summary_plot_tabular.png")

    steps = np.arange(40)
    series = np.stack([np.sin(steps / 4), np.cos(steps / 7), 0.1 * steps / 4], -1)
    series_impact = {"Saliency": series * np.array([1.0, 0.2, -0.5]),
                     "Occlusion": np.abs(series) * np.array([0.8, 0.5, 0.1])}
    save(plot_timeseries_attributions(series_impact, ["pressure", "flow", "temperature"],
                                      cols=2, img_size=2.2, colorbar=True),
         "timeseries_attributions.png")


if __name__ == "__main__":
    main()

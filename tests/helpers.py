"""Helpers shared by several test files (tiny models and data live in conftest.py)."""

import json
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]


def run_tutorial(name: str) -> dict:
    """Execute the code cells of tutorials/<name> in one namespace (figures are not shown) and
    return that namespace."""
    import matplotlib.pyplot as plt  # pylint: disable=C0415 (only tutorials need it)

    path = ROOT / "tutorials" / name
    cells = json.loads(path.read_text())["cells"]
    source = "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    namespace = {"__name__": "__tutorial__"}
    backend = plt.get_backend()
    plt.switch_backend("Agg")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # plt.show() on a non-GUI backend
            exec(compile(source, str(path), "exec"), namespace)
    finally:
        plt.close("all")
        plt.switch_backend(backend)
    return namespace


class RegionModel(tf.Module):
    """Nonlinear score of rows 0..3 and columns 6..11 of a 12 x 16 image."""

    def __call__(self, x):
        return tf.square(tf.reduce_mean(x[:, 0:3, 6:12, :], axis=(1, 2, 3)))[:, None]


def region_images() -> np.ndarray:
    """Two positive 12 x 16 RGB images for :class:`RegionModel`."""
    return np.random.default_rng(0).uniform(0.5, 1.0, (2, 12, 16, 3)).astype("float32")


def assert_region_ranks_first(maps):
    """Each map `(N, 12, 16, 1)` is, on average, over 5 times larger inside
    :class:`RegionModel`'s region than (in absolute value) outside it."""
    maps = np.asarray(maps)[..., 0]
    assert maps.shape[1:] == (12, 16)
    inside = np.zeros((12, 16), bool)
    inside[0:3, 6:12] = True
    for saliency in maps:
        assert saliency[inside].mean() > 5 * np.abs(saliency[~inside]).mean()

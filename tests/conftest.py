"""Tiny deterministic models and data shared by the tests. Nothing is downloaded."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

#: Per-sample input shape of each modality used by the contract tests (images non-square).
INPUT_SHAPES = {
    "tabular": (6,),
    "time_series": (8, 3),
    "images": (8, 10, 3),
}
NB_CLASSES = 3


def make_model(modality: str, seed: int = 0, softmax: bool = False, gap: bool = False
               ) -> keras.Model:
    """A small seeded model for `modality` ("tabular", "time_series" or "images").

    With `gap=True` the image model pools its conv maps globally (GlobalAveragePooling2D)
    instead of flattening them, the head CAM needs; other modalities ignore it.
    """
    keras.utils.set_random_seed(seed)
    shape = INPUT_SHAPES[modality]
    inputs = keras.Input(shape)
    if modality == "tabular":
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
    elif modality == "time_series":
        hidden = keras.layers.Conv1D(4, 3, activation="relu", padding="same")(inputs)
        hidden = keras.layers.Flatten()(hidden)
    else:
        hidden = keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv")(inputs)
        pooling = keras.layers.GlobalAveragePooling2D() if gap else keras.layers.Flatten()
        hidden = pooling(hidden)
    logits = keras.layers.Dense(NB_CLASSES, name="logits")(hidden)
    outputs = keras.layers.Softmax(name="probs")(logits) if softmax else logits
    return keras.Model(inputs, outputs)


def make_inputs(modality: str, n: int, seed: int = 0) -> np.ndarray:
    """`n` float32 inputs of `modality` drawn from a seeded uniform distribution."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (n,) + INPUT_SHAPES[modality]).astype("float32")


def make_targets(n: int, seed: int = 0) -> np.ndarray:
    """`n` integer class indices."""
    return np.random.default_rng(seed + 1).integers(0, NB_CLASSES, n)


def one_hot(indices: np.ndarray, depth: int = NB_CLASSES) -> np.ndarray:
    return np.eye(depth, dtype="float32")[indices]


class CountingModel(tf.Module):
    """Wraps a model; counts the forward passes it runs and the largest batch it saw.

    The counters are TensorFlow variables, so compiled kernels update them on every run (not
    only while tracing).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = tf.Variable(0, dtype=tf.int64)
        self.max_batch = tf.Variable(0, dtype=tf.int64)
        self.total = tf.Variable(0, dtype=tf.int64)

    def __call__(self, inputs, *args, **kwargs):
        size = tf.cast(tf.shape(inputs)[0], tf.int64)
        self.calls.assign_add(1)
        self.total.assign_add(size)
        self.max_batch.assign(tf.maximum(self.max_batch, size))
        return self.model(inputs)


class StaticBatchModule(tf.Module):
    """A contract model behind a tf.Module that reshapes with the static batch size, so it
    cannot be traced with an unknown one."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def __call__(self, x):
        flat = tf.reshape(x, [x.shape[0], -1])
        return self.model(tf.reshape(flat, [x.shape[0], *x.shape[1:]]))


#: Methods that rewire or read the Keras layer graph: a tf.Module has none to give them.
NEEDS_KERAS_LAYERS = {"DeconvNet", "GuidedBackprop", "GradCAM", "GradCAMPP", "LayerCAM",
                      "ScoreCAM", "FEM", "CAM", "FullGradient", "LRP", "LRPEpsilon",
                      "LRPEpsilonGammaBox", "DeepLift"}


@pytest.fixture(params=sorted(INPUT_SHAPES))
def modality(request):
    return request.param

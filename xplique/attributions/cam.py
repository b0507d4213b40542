"""CAM, class activation mapping."""

import functools

import keras
import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows
from xplique.commons.feature_maps import weighted_feature_map
from xplique.commons.model_surgery import is_graph_model, run_model

#: Layers that leave a tensor unchanged at inference, skipped when reading the model's head.
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout)
#: Layers allowed after the classifier's Dense (they do not change which output is explained).
_ACTIVATIONS = (keras.layers.Activation, keras.layers.Softmax)


class CAM(WhiteBoxExplainer):
    """CAM: for models whose head is global average pooling then a Dense layer, the last
    feature maps weighted by the Dense weights of the target class, `sum_k w_k^c A_k`,
    upsampled to the input.

    Ref. Zhou et al., Learning Deep Features for Discriminative Localization (2016),
    https://arxiv.org/abs/1512.04150

    Parameters
    ----------
    model
        Sequential or functional Keras model ending with `GlobalAveragePooling2D`, then
        `Dense` (Dropout in between and an activation or Softmax after are allowed).

    Notes
    -----
    The feature maps are the input of the pooling layer. With one-hot targets the weights are
    the Dense column of the class; other targets combine the columns linearly (the map of
    `sum_c y_c logit_c`). The bias is a constant and is left out. As in the paper there is no
    ReLU, so maps may be negative. CAM reads weights, not a score: it takes no `operator` nor
    `output_layer`. Maps are upsampled with bilinear interpolation. Images only; returns
    (N, H, W, 1).
    """

    def __init__(self, model, batch_size=32, *, strategy=None):
        self._setup_white_box(model, None, batch_size, None, reducer=None, strategy=strategy)
        pooling, dense = _pooling_dense_head(model)
        features = keras.Model(model.inputs, pooling.input, name=f"{model.name}_cam_features")
        self._maps = Compiled(functools.partial(_cam, features, dense), split=Rows())

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)


def _cam(features, dense, inputs, targets):
    activations = run_model(features, inputs)
    kernel = tf.convert_to_tensor(dense.kernel)
    weights = tf.matmul(tf.cast(targets, kernel.dtype), kernel, transpose_b=True)  # (N, K)
    weights = weights[:, tf.newaxis, tf.newaxis, :]
    return weighted_feature_map(activations, weights, inputs.shape[1:3], rectify=False)


def _consumers(model, tensor):
    found = []
    for layer in model.layers:
        try:
            if layer.input is tensor:
                found.append(layer)
        except (AttributeError, ValueError):
            continue
    return found


def _skip(model, tensor, types):
    """Follow `tensor` through single consumers of `types`; return the tensor reached and its
    consumers."""
    consumers = _consumers(model, tensor)
    while len(consumers) == 1 and isinstance(consumers[0], types):
        tensor = consumers[0].output
        consumers = _consumers(model, tensor)
    return tensor, consumers


def _pooling_dense_head(model):
    """The (GlobalAveragePooling2D, Dense) head of `model`, or a ValueError."""
    if not is_graph_model(model) or len(model.outputs) != 1:
        raise ValueError(
            "CAM needs a Sequential or functional Keras model with one output, whose head is "
            f"GlobalAveragePooling2D then Dense. Received: {type(model).__name__}"
        )
    for pooling in model.layers:
        if not isinstance(pooling, keras.layers.GlobalAveragePooling2D) or pooling.keepdims:
            continue
        _, consumers = _skip(model, pooling.output, _PASS_THROUGH)
        if len(consumers) != 1 or not isinstance(consumers[0], keras.layers.Dense):
            continue
        dense = consumers[0]
        end, _ = _skip(model, dense.output, _ACTIVATIONS)
        if end is model.outputs[0]:
            return pooling, dense
    raise ValueError(
        f"CAM needs a model whose head is GlobalAveragePooling2D then Dense (the model's "
        f"output). Model {model.name!r} has no such head; use GradCAM, which works on any "
        "convolutional model and equals CAM (up to a ReLU and a scale) on such heads"
    )

"""Class activation maps: the feature maps of a convolution, weighted and upsampled.

Every CAM method ends the same way: the channels `A_k` (h, w) of a layer's output are summed
with weights `W_k`, the sum goes through a ReLU (for most of them) and is upsampled to the input
(:func:`weighted_feature_map`). The methods differ only in their weights. Grad-CAM, Grad-CAM++
and LayerCAM read them from the score's gradient with respect to `A`, so each of them only
supplies a weighting function `weights_of(A, dS/dA)` to :func:`gradient_cam_kernel`.
"""

import functools
from typing import Callable, Tuple

import tensorflow as tf

from xplique.commons.all_targets import chosen_outputs, per_target_gradients, recording_tape
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows
from xplique.commons.model_surgery import (
    find_conv_layer,
    layer_output_and_gradient,
    run_model,
    split_at,
)
from xplique.types import LayerRef

#: `weights_of(A, dS/dA) -> W`, both `(N, h, w, K)`; `W` broadcasts against `A`: `(N, 1, 1, K)`
#: for one weight per channel, `(N, h, w, K)` for one per position.
WeightsOf = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def weighted_feature_map(features: tf.Tensor, weights: tf.Tensor, size,
                         rectify: bool = True) -> tf.Tensor:
    """`sum_k W_k A_k` over the channels of `features` `(N, h, w, K)`, through a ReLU when
    `rectify`, upsampled (bilinear) to `size` `(H, W)`: maps `(N, H, W, 1)`.

    `weights` broadcasts against `features` (one weight per channel or per position).
    """
    maps = tf.reduce_sum(weights * features, axis=-1, keepdims=True)
    if rectify:
        maps = tf.nn.relu(maps)
    return tf.image.resize(maps, size, method="bilinear")


def gradient_cam_kernel(model, conv_layer: LayerRef, output_layer: LayerRef,
                        operator: Callable, weights_of: WeightsOf) -> Tuple[object, Compiled]:
    """The feature-map layer of a gradient CAM and its compiled kernel.

    Parameters
    ----------
    model
        The model explained.
    conv_layer
        Layer (name, index or layer) of the feature maps `A`; None finds the last convolution
        (:func:`~xplique.commons.model_surgery.find_conv_layer`).
    output_layer
        Layer whose output the operator scores (None: the model's output).
    operator
        Score function `g(model, inputs, targets) -> (N,)`.
    weights_of
        `weights_of(A, dS/dA) -> W`, the method's weights (see :data:`WeightsOf`).

    Returns
    -------
    `(layer, kernel)`: the layer found and `kernel(inputs, targets) -> (N, H, W, 1)`, the map
    `ReLU(sum_k W_k A_k)` upsampled to the inputs, from one forward and backward pass.
    """
    layer = find_conv_layer(model, conv_layer)
    split = split_at(model, layer, output_layer)
    return layer, Compiled(functools.partial(_gradient_cam, split, operator, weights_of),
                       split=Rows())


def gradient_cam_targets_kernel(model, layer, output_layer: LayerRef,
                                weights_of: WeightsOf) -> Compiled:
    """The K-target kernel of a gradient CAM whose feature-map layer is `layer`:
    `kernel(inputs, indices) -> (N, K, H, W, 1)`, the maps of the K class indices `(N, K)` of
    each input (see :func:`xplique.commons.all_targets.chosen_outputs`) from one forward pass,
    the K score gradients with respect to `A` taken from it."""
    split = split_at(model, layer, output_layer)
    return Compiled(functools.partial(_gradient_cam_targets, split, weights_of), split=Rows())


def _gradient_cam_targets(split, weights_of, inputs, indices):
    with recording_tape(indices.shape[1]) as tape:
        tape.watch(inputs)
        activations, outputs = run_model(split, inputs)
        scores = chosen_outputs(outputs, indices)
    gradients = per_target_gradients(tape, scores, activations)  # (N, K, h, w, C)
    k = int(indices.shape[1])
    flat_shape = tf.concat([[-1], tf.shape(activations)[1:]], axis=0)
    repeated = tf.repeat(activations, k, axis=0)  # input-major, like the gradients' rows
    flat_gradients = tf.reshape(gradients, flat_shape)
    maps = weighted_feature_map(repeated, weights_of(repeated, flat_gradients),
                                inputs.shape[1:3])
    return tf.reshape(maps, tf.concat([[-1, k], tf.shape(maps)[1:]], axis=0))


def _gradient_cam(split, operator, weights_of, inputs, targets):
    activations, gradients = layer_output_and_gradient(split, operator, inputs, targets)
    weights = weights_of(activations, gradients)
    return weighted_feature_map(activations, weights, inputs.shape[1:3])

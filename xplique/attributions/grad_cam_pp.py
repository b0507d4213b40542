"""Grad-CAM++."""

import functools

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.model_surgery import find_conv_layer, layer_output_and_gradient, split_at


class GradCAMPP(WhiteBoxExplainer):
    """Grad-CAM++: Grad-CAM whose channel weights sum the positive gradients with per-position
    coefficients, so that several instances of a class all count.

    With `g = dS/dA_k(i, j)`:
    `alpha_k(i, j) = g^2 / (2 g^2 + sum_ab A_k(a, b) g^3)`,
    `w_k = sum_ij alpha_k(i, j) ReLU(g)` and the map is `ReLU(sum_k w_k A_k)`, upsampled.

    Ref. Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional
    Networks (2018), https://arxiv.org/abs/1710.11063

    Parameters
    ----------
    model
        Keras model to explain.
    output_layer
        Layer (name or index) whose output is scored instead of the model's output.
    conv_layer
        Layer (name or index) giving the feature maps `A` (N, h, w, K); by default the last
        convolution with a 4-D output.

    Notes
    -----
    The higher derivatives use the paper's closed form for an exponentiated score (powers of
    the first derivative). As in the paper, the denominator holds the spatial *sum* of the
    activations and `w_k` is a sum over positions; Xplique uses spatial means for both, which
    rescales the map and changes the alphas. Where the denominator is zero, alpha is zero.
    Maps are upsampled with bilinear interpolation. Images only; returns (N, H, W, 1).
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, conv_layer=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None)
        self.conv_layer = find_conv_layer(model, conv_layer)
        split = split_at(model, self.conv_layer, output_layer)
        self._maps = Compiled(functools.partial(_grad_cam_pp, split, self.operator))

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)


def _grad_cam_pp(split, operator, inputs, targets):
    activations, gradients = layer_output_and_gradient(split, operator, inputs, targets)
    squared = tf.square(gradients)
    totals = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    alphas = tf.math.divide_no_nan(squared, 2.0 * squared + totals * squared * gradients)
    weights = tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2), keepdims=True)
    maps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1, keepdims=True))
    return tf.image.resize(maps, inputs.shape[1:3], method="bilinear")

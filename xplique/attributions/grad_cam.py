"""Grad-CAM."""

import functools

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.model_surgery import find_conv_layer, layer_output_and_gradient, split_at


class GradCAM(WhiteBoxExplainer):
    """Grad-CAM: the feature maps of a convolution weighted by the spatial mean of the score's
    gradient with respect to them, `ReLU(sum_k mean_ij(dg/dA_k) A_k)`, upsampled to the input.

    Ref. Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization (2017), https://arxiv.org/abs/1610.02391

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
    Maps are upsampled from (h, w) to the input size with bilinear interpolation, as in the
    paper (Xplique uses bicubic, which can overshoot below zero). Unlike Xplique, `operator`
    and `output_layer` take effect. Images only; returns (N, H, W, 1).
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, conv_layer=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None)
        self.conv_layer = find_conv_layer(model, conv_layer)
        split = split_at(model, self.conv_layer, output_layer)
        self._maps = Compiled(functools.partial(_grad_cam, split, self.operator))

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)


def _grad_cam(split, operator, inputs, targets):
    activations, gradients = layer_output_and_gradient(split, operator, inputs, targets)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    maps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1, keepdims=True))
    return tf.image.resize(maps, inputs.shape[1:3], method="bilinear")

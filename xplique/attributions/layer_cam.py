"""LayerCAM."""

import functools

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.model_surgery import find_conv_layer, layer_output_and_gradient, split_at


class LayerCAM(WhiteBoxExplainer):
    """LayerCAM: feature maps weighted position by position by their positive gradients,
    `ReLU(sum_k ReLU(dS/dA_k(i, j)) A_k(i, j))`, upsampled to the input. Unlike Grad-CAM, the
    weights are not averaged over space, so the map stays sharp on shallow layers.

    Ref. Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization
    (2021), https://doi.org/10.1109/TIP.2021.3089943

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
    The paper fuses the maps of several layers by hand; here one layer is explained per
    explainer (combine several LayerCAMs to fuse). Maps are upsampled with bilinear
    interpolation. Images only; returns (N, H, W, 1).
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, conv_layer=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None)
        self.conv_layer = find_conv_layer(model, conv_layer)
        split = split_at(model, self.conv_layer, output_layer)
        self._maps = Compiled(functools.partial(_layer_cam, split, self.operator))

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)


def _layer_cam(split, operator, inputs, targets):
    activations, gradients = layer_output_and_gradient(split, operator, inputs, targets)
    maps = tf.reduce_sum(tf.nn.relu(gradients) * activations, axis=-1, keepdims=True)
    return tf.image.resize(tf.nn.relu(maps), inputs.shape[1:3], method="bilinear")

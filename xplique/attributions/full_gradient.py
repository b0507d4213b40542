"""FullGrad, the full-gradient saliency map."""

import contextlib
import functools

import keras
import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows
from xplique.commons.model_surgery import all_layers, capture_output, rewired, run_model


class FullGradient(WhiteBoxExplainer):
    """FullGrad: the input-gradient term plus the bias-gradient term of every convolution (and
    batch normalisation), each made positive, rescaled to [0, 1], upsampled and summed.

    `S(x) = psi(dS/dx * x) + sum_layers sum_channels psi(dS/dz * b)`, where `z` is a layer's
    output before its activation, `b` its bias and `psi` = absolute value, per-map min-max
    rescaling, bilinear upsampling to the input size.

    Ref. Srinivas and Fleuret, Full-Gradient Representation for Neural Network Visualization
    (2019), https://arxiv.org/abs/1905.00780

    FullGradient has no parameter of its own (its maps are not channel-reduced, so it takes
    no `reducer`).

    Notes
    -----
    As in the paper's image saliency, only spatial bias-gradients (layers with 4-D outputs)
    are aggregated; Dense biases have no position. Bias-gradients are read at every layer with
    a `bias` and an `activation` (Dense and convolutions: `dS/dz * b` before the activation)
    and at `BatchNormalization` layers over the last axis, whose inference-time bias is
    `beta - gamma * mean / sqrt(var + eps)`. Each map is rescaled per input over all its
    positions and channels; a constant map becomes zero. The pre-activations are probed by
    rewiring the layers while the compiled kernel is traced (restored right after). Images
    only; returns (N, H, W, 1).
    """

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer=None,
                              strategy=strategy)
        layers = all_layers(model)
        biased = [(layer, "activation") for layer in layers if _has_bias(layer)]
        norms = [layer for layer in layers if _is_last_axis_batch_norm(layer)]
        self._maps = Compiled(functools.partial(
            _full_gradient, self._scored_model, biased, norms, self.operator
        ), split=Rows())

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._maps, [inputs, targets], self.batch_size)


def _has_bias(layer) -> bool:
    return getattr(layer, "bias", None) is not None and hasattr(layer, "activation")


def _is_last_axis_batch_norm(layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization) and layer.axis in (-1, 3, [3])


def _batch_norm_bias(layer):
    scale = tf.math.rsqrt(tf.convert_to_tensor(layer.moving_variance) + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * tf.convert_to_tensor(layer.gamma)
    bias = -scale * tf.convert_to_tensor(layer.moving_mean)
    if layer.beta is not None:
        bias = bias + tf.convert_to_tensor(layer.beta)
    return bias


def _psi(maps, size):
    """Absolute value, min-max rescaling per input, summed over channels, bilinear upsampling
    to `size`: `(N, H, W, 1)`. Channels are summed before upsampling (one channel to resize
    instead of C): the same result, since the rescaling is shared by the channels and bilinear
    upsampling is linear."""
    maps = tf.abs(maps)
    low = tf.reduce_min(maps, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(maps, axis=(1, 2, 3), keepdims=True)
    # sum_c (m - low) / (high - low) = (sum_c m - C low) / (high - low): three reductions of
    # the layer-sized map, the rest on one channel.
    channels = float(maps.shape[-1])
    maps = tf.math.divide_no_nan(tf.reduce_sum(maps, axis=-1, keepdims=True) - channels * low,
                                 high - low)
    if tuple(maps.shape[1:3]) != tuple(size):
        maps = tf.image.resize(maps, size, method="bilinear")
    return maps


def _full_gradient(scored_model, biased, norms, operator, inputs, targets):
    probes = []  # (bias, tensor whose gradient times bias is the bias-gradient)

    def probe(layer, activation):
        def recorded(z):
            probes.append((tf.convert_to_tensor(layer.bias), z))
            return activation(z)

        return recorded

    with contextlib.ExitStack() as stack:
        stack.enter_context(rewired(biased, probe))
        captured = [(layer, stack.enter_context(capture_output(layer))) for layer in norms]
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            total = tf.reduce_sum(
                operator(lambda batch: run_model(scored_model, batch), inputs, targets)
            )
    for layer, outputs in captured:
        probes.extend((_batch_norm_bias(layer), output) for output in outputs)
    probes = [(bias, z) for bias, z in probes if z.shape.rank == 4]
    gradients = tape.gradient(
        total, [inputs] + [z for _, z in probes],
        unconnected_gradients=tf.UnconnectedGradients.ZERO,
    )
    size = inputs.shape[1:3]
    saliency = _psi(gradients[0] * inputs, size)
    for (bias, _), gradient in zip(probes, gradients[1:]):
        saliency += _psi(gradient * tf.cast(bias, gradient.dtype), size)
    return saliency

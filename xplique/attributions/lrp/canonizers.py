"""Canonizers: rewrite a model into an equivalent one whose layers the LRP rules apply to.

The one canonizer needed by common Keras models folds each BatchNormalization into the Dense or
convolution just before it: in inference mode the batch norm is the affine map
`y = scale * (z - mean) + beta` per channel, with `scale = gamma / sqrt(variance + epsilon)`, so
`W' = W * scale` (per output channel) and `b' = (b - mean) * scale + beta` compute the same
outputs in one linear layer, to which the rule then applies. Rules see one layer instead of two,
as the LRP literature prescribes (a batch norm on its own is not a layer LRP rules are defined
for).

Folding works on copies: the folded weights are computed from the layers' variables in each
forward pass and the user's model is never changed.

Ref. Hui & Binder, BatchNorm Decomposition for Deep Neural Network Interpretation (2019),
https://doi.org/10.1007/978-3-030-20518-8_24 ; Motzkus et al., Measurably Stronger Explanation
Reliability via Model Canonization (2022), https://arxiv.org/abs/2202.06621
"""

from typing import List

import keras
import tensorflow as tf


def fold_batch_norms(nodes: List) -> None:
    """Attach each BatchNormalization node to the weighted layer it follows (see the module
    docstring); raise a ValueError naming a batch norm that cannot be folded."""
    consumers = [0] * len(nodes)
    for node in nodes:
        for parent in node.parents:
            consumers[parent] += 1
    for node in nodes:
        if not isinstance(node.layer, keras.layers.BatchNormalization):
            continue
        parent = nodes[node.parents[0]] if len(node.parents) == 1 else None
        reason = _unfoldable(node, parent, consumers[node.parents[0]] if parent else 0)
        if reason:
            raise ValueError(
                f"BatchNormalization layer {node.name!r} cannot be folded: {reason}. LRP folds "
                "each batch norm into the Dense or convolution (without activation) whose "
                "output only it reads")
        parent.batch_norm = node.layer
        node.folded_into = parent.name


def _unfoldable(node, parent, consumers: int) -> str:
    if parent is None or not parent.weighted:
        previous = "the input" if parent is None else repr(parent.name)
        return f"it follows {previous}, not a Dense or convolution layer"
    if parent.activation is not None:
        return f"layer {parent.name!r} before it has an activation"
    if parent.batch_norm is not None or consumers != 1:
        return f"the output of layer {parent.name!r} is also used elsewhere"
    layer = parent.layer
    rank = len(node.layer.input.shape)
    axis = node.layer.axis % rank
    channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
    if axis != (1 if channels_first else rank - 1):
        return f"it normalises axis {node.layer.axis}, not the channels of {parent.name!r}"
    return ""


def folded_weights(layer, batch_norm=None):
    """`(kernel, bias)` of `layer` with `batch_norm` folded in (bias None when there is none)."""
    kernel = tf.convert_to_tensor(layer.kernel)
    bias = None if layer.bias is None else tf.convert_to_tensor(layer.bias)
    if batch_norm is None:
        return kernel, bias
    variance = tf.convert_to_tensor(batch_norm.moving_variance)
    scale = tf.math.rsqrt(variance + batch_norm.epsilon)
    if batch_norm.scale:
        scale = scale * batch_norm.gamma
    shift = -tf.convert_to_tensor(batch_norm.moving_mean) * scale
    if batch_norm.center:
        shift = shift + batch_norm.beta
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        kernel = kernel * tf.reshape(scale, kernel.shape[-2:])
    else:
        kernel = kernel * scale
    bias = shift if bias is None else bias * scale + shift
    return kernel, bias

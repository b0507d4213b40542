"""One linear layer as the rules use it: the operations every rule's formula is made of.

- the stabilised division `R / stabilize(z, epsilon)` (:func:`stabilized_ratio`, one fused pass);
- the input-gradient product `W^T s` of the layer applied with any weights (:func:`vjp`), and
  several kernels or terms as one product stacked along the input channels
  (:func:`stacked_vjp`, :func:`stacked_terms`);
- the relevance `x * g` of an input, left unmultiplied for the next layer where it can be.

The layer is the engine's :class:`~xplique.attributions.lrp.propagation.LinearCall`.
"""

from typing import Callable, List, Sequence, Tuple

import tensorflow as tf

from xplique.attributions.lrp.products import Product
from xplique.commons.compiled import fused

#: Stabiliser of the denominators of the rules without an epsilon of their own (guards against
#: division by zero only).
DEFAULT_STABILIZER = 1e-9


def stabilize(z: tf.Tensor, epsilon: float) -> tf.Tensor:
    """`z + epsilon * sign(z)`, with `sign(0) = 1`."""
    return tf.where(z >= 0, z + epsilon, z - epsilon)


def _stabilized_ratio(relevance: tf.Tensor, z: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
    return relevance / tf.where(z >= 0, z + epsilon, z - epsilon)


_fused_stabilized_ratio = fused(_stabilized_ratio)


def stabilized_ratio(relevance: tf.Tensor, z: tf.Tensor, epsilon: float) -> tf.Tensor:
    """`relevance / stabilize(z, epsilon)`, the same values computed in one fused pass over
    the data where XLA runs (the comparison, the two shifted copies, the selection and the
    division are otherwise five passes, a large share of an explanation's time on CPU)."""
    return _fused_stabilized_ratio(relevance, z, tf.constant(epsilon, z.dtype))


def vjp(layer, inputs: Sequence[tf.Tensor], kernel, bias, upstream: tf.Tensor) -> List[tf.Tensor]:
    """`W^T upstream` for each input of `layer` applied with `kernel` and `bias` to `inputs`:
    the input gradients of `sum(layer.apply(inputs, kernel, bias) * upstream)`.

    The recomputed layer output only feeds its gradient (whose kernels need the inputs and the
    weights, not the output), so a compiled graph never runs it.
    """
    inputs = list(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        z = layer.apply(inputs, kernel, bias)
    return tape.gradient(z, inputs, output_gradients=upstream,
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)


def _stackable(layer) -> bool:
    """Whether the input gradients of several kernels of `layer` can be one product with the
    kernels stacked along the input channels (Dense, and ungrouped convolutions)."""
    from keras import layers  # pylint: disable=import-outside-toplevel
    node = getattr(layer, "node", None)
    keras_layer = getattr(node, "layer", None)
    if isinstance(keras_layer, layers.Dense):
        return True
    if isinstance(keras_layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        return False
    return (isinstance(keras_layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D))
            and getattr(keras_layer, "groups", 1) == 1)


def stacked_vjp(layer, x: tf.Tensor, kernels: Sequence[tf.Tensor], upstream: tf.Tensor
                ) -> List[tf.Tensor]:
    """`[K^T upstream for K in kernels]` for `layer` applied without bias to inputs shaped like
    `x`: one transposed product with the kernels stacked along the input channels where the
    layer allows it (one pass over `upstream` instead of one per kernel)."""
    products, unstack = stacked_terms(layer, [(x, kernel, None) for kernel in kernels])
    return unstack([vjp(layer, [t], k, b, upstream)[0] for t, k, b in products])


def stacked_terms(layer, terms: Sequence[tuple]) -> Tuple[List[tuple], Callable]:
    """The terms `[(input, kernel, bias)]` of a sum `sum(layer.apply([x], k, b))`, as one term
    where the layer allows it: the inputs stacked along the channels, the kernels along their
    input channels, the bias of the first (the others have none). One product forward and one
    transposed product backward, instead of one of each per term.

    Returns the terms to apply, and a function that turns their input gradients (one per
    returned term) into one per term of `terms`.
    """
    terms = list(terms)
    if (len(terms) == 1 or not _stackable(layer)
            or any(bias is not None for _, _, bias in terms[1:])):
        return terms, list
    axis = _channel_axis(layer, terms[0][0])
    stacked = (tf.concat([x for x, _, _ in terms], axis=axis),
               tf.concat([kernel for _, kernel, _ in terms], axis=-2), terms[0][2])

    def unstack(gradients):
        return tf.split(gradients[0], len(terms), axis=axis)

    return [stacked], unstack


def _channel_axis(layer, x: tf.Tensor) -> int:
    """The axis of the channels of `x`, an input of `layer`."""
    channels_first = getattr(layer.node.layer, "data_format", "channels_last") == "channels_first"
    return 1 if channels_first and x.shape.rank > 2 else -1


def _product(x: tf.Tensor, original: tf.Tensor, gradient: tf.Tensor):
    """The relevance `x * gradient` of an input whose value is `original`: left unmultiplied
    when `x` is that input itself (a Product's factor is always its tensor's value)."""
    if x is original:
        return Product(x, gradient)
    return x * gradient


def _single_input(layer, rule):
    if len(layer.inputs) != 1:
        raise ValueError(
            f"{type(rule).__name__} applies to layers with one input. Received layer "
            f"{layer.name!r} with {len(layer.inputs)} inputs")
    return layer.inputs

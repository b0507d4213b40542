"""Relevance kept as an unmultiplied product between layers.

Every rule ends with a product: the relevance of a layer's input is `x * g` (LRP: `g` the
vector-Jacobian product of the rule's modified layer) or `(x - x0) * g` (DeepLIFT). The next
layer backwards divides it at once by its own stabilised denominator. Multiplying first and
dividing after are two passes over the data; kept as a :class:`Product`, the two become one
fused pass (:func:`product_ratio`, :func:`rescaled_product_ratio`), and a product crosses the
layers that only move values (reshapes, max pools, elementwise activations) without being
multiplied: moving `x_out * g` is multiplying the moved `g` by `x_in`, since every value of
`x_out` is a copy of one of `x_in` (or a padded zero).
"""

from typing import Optional, Sequence

import tensorflow as tf

from xplique.commons.compiled import fused


class Product:
    """The relevance `factor * gradient`, or `(factor - reference) * gradient` with a reference
    (DeepLIFT; `reference` has a batch of one), not yet multiplied.

    `factor` is always the output tensor of the node whose relevance this is (the engine checks
    it by identity before moving a product through a layer)."""

    __slots__ = ("factor", "gradient", "reference")

    def __init__(self, factor: tf.Tensor, gradient: tf.Tensor,
                 reference: Optional[tf.Tensor] = None):
        self.factor = factor
        self.gradient = gradient
        self.reference = reference

    def value(self) -> tf.Tensor:
        """The relevance as a tensor."""
        if self.reference is None:
            return self.factor * self.gradient
        return _difference_product(self.factor, self.reference, self.gradient)


def materialize(relevance) -> tf.Tensor:
    """The relevance as a tensor (a :class:`Product` multiplied out)."""
    return relevance.value() if isinstance(relevance, Product) else relevance


def add(first, second):
    """The sum of two relevances of one tensor (skip connections): products of the same factor
    stay a product (their gradients add up)."""
    if (isinstance(first, Product) and isinstance(second, Product)
            and first.factor is second.factor and first.reference is second.reference):
        return Product(first.factor, first.gradient + second.gradient, first.reference)
    return materialize(first) + materialize(second)


def _difference_product_fn(factor, reference, gradient):
    return (factor - reference) * gradient


def _product_ratio_fn(factor, gradient, z, epsilon):
    return factor * gradient / tf.where(z >= 0, z + epsilon, z - epsilon)


def _rectified_ratio_fn(factor, gradient, epsilon):
    # `factor = relu(z)`: where z > 0, stabilize(z) = factor + epsilon; elsewhere the
    # relevance `factor * gradient` is 0, and so is its ratio (for any epsilon, 0 included)
    return tf.where(factor > 0, factor * gradient / (factor + epsilon),
                    tf.zeros((), factor.dtype))


def _rescaled_product_ratio_fn(factor, reference, gradient, z, z_reference, epsilon):
    difference = z - z_reference
    return ((factor - reference) * gradient
            / tf.where(difference >= 0, difference + epsilon, difference - epsilon))


_difference_product = fused(_difference_product_fn)
_product_ratio = fused(_product_ratio_fn)
_rectified_ratio = fused(_rectified_ratio_fn)
_rescaled_product_ratio = fused(_rescaled_product_ratio_fn)


def product_ratio(relevance: Product, z: tf.Tensor, epsilon: float,
                  rectified: Sequence[tf.Tensor] = ()) -> tf.Tensor:
    """`relevance / stabilize(z, epsilon)` for a product without reference, in one pass.

    When the product's factor is one of `rectified`, tensors that are exactly `relu(z)`, the
    same values come from the factor alone (`factor * g / (factor + epsilon)` where `z > 0`,
    since the factor is then `z`; 0 elsewhere, where the factor is 0): `z` is then not read,
    and a compiled graph need not keep it apart from its ReLU (the layer, its bias and its ReLU
    run as one fused kernel, as in the model's own forward pass)."""
    epsilon = tf.constant(epsilon, relevance.factor.dtype)
    if any(relevance.factor is tensor for tensor in rectified):
        return _rectified_ratio(relevance.factor, relevance.gradient, epsilon)
    return _product_ratio(relevance.factor, relevance.gradient, z, epsilon)


def rescaled_product_ratio(relevance: Product, z: tf.Tensor, z_reference: tf.Tensor,
                           epsilon: float) -> tf.Tensor:
    """`relevance / stabilize(z - z_reference, epsilon)` for a product with a reference (or
    without: the reference is then 0), in one pass."""
    reference = relevance.reference
    if reference is None:
        reference = tf.zeros((), relevance.factor.dtype)
    return _rescaled_product_ratio(relevance.factor, reference, relevance.gradient, z,
                                   z_reference, tf.constant(epsilon, z.dtype))

"""Contributions split by sign: the relevance of the ZPlus and AlphaBeta rules.

The contributions `x_i w_ij` of a layer's outputs are split into their positive and negative
parts (so inputs of either sign are handled); each part shares `alpha` (or `-beta`) times the
relevance in proportion to its contributions, with its own denominator.

Ref. Bach et al., On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise
Relevance Propagation (2015), https://doi.org/10.1371/journal.pone.0130140
"""

from typing import List

import tensorflow as tf

from xplique.attributions.lrp.linear_maps import (
    DEFAULT_STABILIZER,
    _product,
    _single_input,
    stabilized_ratio,
    stacked_terms,
    vjp,
)
from xplique.attributions.lrp.products import Product, materialize, product_ratio


def _signed_parts(layer, x, sign):
    """The positive (sign=+1) or negative (sign=-1) contributions `(x w)±` as the terms
    `[(input, kernel, bias)]` whose sum is them: `x+ w± + x- w∓ (+ b±)`."""
    def part(t):
        return tf.nn.relu(sign * t) * sign
    if isinstance(x, _NonNegative):  # x = x+, and x- = 0 (the terms of x- are never used)
        return [(x.tensor, part(layer.kernel),
                 None if layer.bias is None else part(layer.bias))]
    terms = [(tf.nn.relu(x), part(layer.kernel), None if layer.bias is None else part(layer.bias)),
             (-tf.nn.relu(-x), -part(-layer.kernel), None)]
    return terms


def alpha_beta(layer, relevance, alpha: float, beta: float, rule) -> List[tf.Tensor]:
    """`alpha * R over the positive contributions - beta * R over the negative ones`.

    Contributions are `(x_i w_ij)±` (so inputs of either sign are handled), plus `b±`. When no
    input is negative (after a ReLU) the terms of negative inputs are skipped: statically when
    the engine knows the input is non-negative (`layer.nonnegative_inputs`), else at run time.
    """
    (x,) = _single_input(layer, rule)

    def propagate(with_negative_inputs, inputs):
        parts = []
        for sign, weight in ((1.0, alpha), (-1.0, -beta)):
            if weight == 0.0:
                continue
            terms = _signed_parts(layer, inputs, sign)
            if not with_negative_inputs:
                terms = terms[:1]
            # on inputs of both signs, `x+ w± + x- w∓` is one product of the stacked inputs
            products, unstack = stacked_terms(layer, terms)
            z = tf.add_n([layer.apply([t], k, b) for t, k, b in products])
            if weight == 1.0 and isinstance(relevance, Product) and relevance.reference is None:
                scaled = product_ratio(relevance, z, DEFAULT_STABILIZER)
            else:
                weighted = materialize(relevance)
                weighted = weighted if weight == 1.0 else weight * weighted
                scaled = stabilized_ratio(weighted, z, DEFAULT_STABILIZER)
            gradients = unstack([vjp(layer, [t], k, b, scaled)[0] for t, k, b in products])
            parts.extend(zip([t for t, _, _ in terms], gradients))
        if len(parts) == 1 and parts[0][0] is x:
            return _product(x, x, parts[0][1])  # left unmultiplied for the next layer
        total = parts[0][0] * parts[0][1]
        for t, g in parts[1:]:
            total = total + t * g
        return total

    if all(getattr(layer, "nonnegative_inputs", None) or [False]):
        return [propagate(False, _NonNegative(x))]
    return [tf.cond(tf.reduce_any(x < 0), lambda: materialize(propagate(True, x)),
                    lambda: materialize(propagate(False, x)))]


class _NonNegative:
    """An input known to be non-negative: its positive part is itself (no ReLU to run)."""

    def __init__(self, tensor):
        self.tensor = tensor

"""LRP rules: how one linear layer hands the relevance of its outputs to its inputs.

Every rule is a configuration of one formula. For a linear layer `z = W x + b` (a Dense or
convolution kernel, or a weight-free linear layer: average pooling, Add), a rule picks a modified
input `x'`, weight `W'`, bias `b'` and a stabilised denominator, and

    R_x = x' * W'^T (R_z / stabilise(W' x' + b'))

which the engine computes as one vector-Jacobian product of the modified layer (an ordinary
backward pass through it). The rules whose formula has several terms (ZBox, ZPlus, AlphaBeta)
write their own :meth:`Rule.relevance` with the same helper. The operations on one layer the
rules are written with are in :mod:`xplique.attributions.lrp.linear_maps`; the ZPlus and
AlphaBeta relevance, contributions split by sign, in :mod:`xplique.attributions.lrp.signed`.

Ref. Montavon et al., Layer-Wise Relevance Propagation: An Overview (2019),
https://doi.org/10.1007/978-3-030-28954-6_10 ; Bach et al., On Pixel-Wise Explanations for
Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation (2015),
https://doi.org/10.1371/journal.pone.0130140
"""

from typing import List, Optional

import numpy as np
import tensorflow as tf

from xplique.attributions.lrp.linear_maps import (
    DEFAULT_STABILIZER,
    _product,
    _single_input,
    stabilize,
    stabilized_ratio,
    stacked_vjp,
    vjp,
)
from xplique.attributions.lrp.products import Product, materialize, product_ratio
from xplique.attributions.lrp.signed import alpha_beta
from xplique.commons.validation import ensure_float


class Rule:
    """Base of every LRP rule; unmodified, it is the :class:`ZeroRule`.

    A custom rule subclasses it and overrides one or more of the four modifications (weights,
    bias, inputs, denominator). Overriding :meth:`relevance` itself is for rules with several
    terms, such as :class:`ZBoxRule`. A rule that changes the weights sets `needs_weights =
    True`, so the engine refuses it on weight-free layers (pools, Add).

    Examples
    --------
    >>> import tensorflow as tf
    >>> class AbsoluteWeights(Rule):
    ...     needs_weights = True
    ...     def modify_kernel(self, kernel):
    ...         return tf.abs(kernel)
    >>> AbsoluteWeights()
    AbsoluteWeights()
    """

    #: Whether the rule changes the weights, so it cannot be used on a weight-free layer.
    needs_weights = False

    def modify_input(self, inputs: tf.Tensor) -> tf.Tensor:
        """The input `x'` of the modified layer (the layer's input by default)."""
        return inputs

    def modify_kernel(self, kernel: tf.Tensor) -> tf.Tensor:
        """The weights `W'` of the modified layer (the layer's weights by default)."""
        return kernel

    def modify_bias(self, bias: tf.Tensor) -> Optional[tf.Tensor]:
        """The bias `b'` of the modified layer; None drops it."""
        return bias

    def modify_denominator(self, z: tf.Tensor) -> tf.Tensor:
        """The stabilised denominator; `z` is the modified layer's output."""
        return stabilize(z, DEFAULT_STABILIZER)

    def relevance(self, layer, relevance: tf.Tensor) -> List[tf.Tensor]:
        """The relevance of each input of `layer` given the relevance of its output.

        Parameters
        ----------
        layer
            The layer as the engine ran it (:class:`~xplique.attributions.lrp.propagation.
            LinearCall`): `inputs`, pre-activation `outputs`, `kernel`, `bias` (None for
            weight-free layers) and `apply(inputs, kernel, bias)`.
        relevance
            Relevance of the layer's output, shaped like it.
        """
        return [materialize(r) for r in self._propagate(layer, relevance)]

    def _engine_relevance(self, layer, relevance) -> list:
        """What the engine calls: :meth:`_propagate` (which may take and return unmultiplied
        :class:`~xplique.attributions.lrp.products.Product` relevances), or the rule's own
        :meth:`relevance` on tensors when a subclass overrides it."""
        if type(self).relevance is not Rule.relevance:
            return self.relevance(layer, materialize(relevance))
        return self._propagate(layer, relevance)

    def _propagate(self, layer, relevance) -> list:
        """:meth:`relevance` with `relevance` possibly a Product and the input relevances
        returned as Products `x' * g` (multiplied by the next layer backwards, in one pass with
        its own division)."""
        kernel = None if layer.kernel is None else self.modify_kernel(layer.kernel)
        bias = None if layer.bias is None else self.modify_bias(layer.bias)
        inputs = [self.modify_input(x) for x in layer.inputs]
        if self._keeps_layer():
            z = layer.outputs  # the forward pass already computed the denominator
        else:
            z = layer.apply(inputs, kernel, bias)
        scaled = self._scaled(relevance, z, layer)
        gradients = vjp(layer, inputs, kernel, bias, scaled)
        return [_product(x, original, g)
                for x, original, g in zip(inputs, layer.inputs, gradients)]

    def _scaled(self, relevance, z: tf.Tensor, layer=None) -> tf.Tensor:
        """`relevance / modify_denominator(z)` (fused when the denominator is the standard
        `stabilize(z, epsilon)` of :meth:`_stabilizer`, with the multiplication of an
        unmultiplied relevance too; `layer`, when `z` is its output, lets the division read
        `relu(z)` instead of `z`: :func:`~xplique.attributions.lrp.products.product_ratio`)."""
        epsilon = self._stabilizer()
        if epsilon is None:
            return materialize(relevance) / self.modify_denominator(z)
        if isinstance(relevance, Product) and relevance.reference is None:
            rectified = (getattr(layer, "rectified_outputs", ())
                         if layer is not None and z is layer.outputs else ())
            return product_ratio(relevance, z, epsilon, rectified)
        return stabilized_ratio(materialize(relevance), z, epsilon)

    def _stabilizer(self) -> Optional[float]:
        """The epsilon of the denominator when it is `stabilize(z, epsilon)` (the rule does
        not override :meth:`modify_denominator`), else None."""
        if type(self).modify_denominator is Rule.modify_denominator:
            return DEFAULT_STABILIZER
        return None

    def _keeps_layer(self) -> bool:
        """Whether the modified layer is the layer itself (only the denominator changes)."""
        cls = type(self)
        return (cls.modify_input is Rule.modify_input and cls.modify_kernel is Rule.modify_kernel
                and cls.modify_bias is Rule.modify_bias)

    def _config(self) -> dict:
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={_short(value)}" for key, value in self._config().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        mine, theirs = self._config(), other._config()
        return mine.keys() == theirs.keys() and all(
            np.array_equal(np.asarray(mine[k]), np.asarray(theirs[k])) for k in mine)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape})" if value.size > 4 else repr(value.tolist())
    return repr(value)


class ZeroRule(Rule):
    """LRP-0: relevance split in proportion to the contributions `x_i w_ij` of `z_j`.

    Ref. Bach et al., On Pixel-Wise Explanations for Non-Linear Classifier Decisions by
    Layer-Wise Relevance Propagation (2015), https://doi.org/10.1371/journal.pone.0130140

    On a bias-free ReLU network it equals Gradient x Input. The denominator is stabilised by
    `1e-9 * sign(z)` (division by zero only).
    """


class EpsilonRule(Rule):
    """LRP-epsilon: the denominator grows by `epsilon * sign(z_j)` (sign(0) = 1), which absorbs
    the relevance of weak or contradictory contributions and gives sparser, less noisy maps.

    Ref. Bach et al. (2015), https://doi.org/10.1371/journal.pone.0130140

    Parameters
    ----------
    epsilon
        Stabiliser, >= 0 (0 is the ZeroRule without its guard against division by zero).
    """

    def __init__(self, epsilon: float = 1e-6):
        self.epsilon = ensure_float(epsilon, "epsilon", minimum=0.0)

    def modify_denominator(self, z):
        return stabilize(z, self.epsilon)

    def _stabilizer(self):
        if type(self).modify_denominator is EpsilonRule.modify_denominator:
            return self.epsilon
        return super()._stabilizer()


class GammaRule(Rule):
    """LRP-gamma: positive contributions favoured, `W' = W + gamma W+`, `b' = b + gamma b+`.

    Ref. Montavon et al., Layer-Wise Relevance Propagation: An Overview (2019),
    https://doi.org/10.1007/978-3-030-28954-6_10

    Parameters
    ----------
    gamma
        Weight of the positive part, >= 0 (0 is the ZeroRule; large values approach ZPlus).
    """

    needs_weights = True

    def __init__(self, gamma: float = 0.25):
        self.gamma = ensure_float(gamma, "gamma", minimum=0.0)

    def modify_kernel(self, kernel):
        return kernel + self.gamma * tf.nn.relu(kernel)

    def modify_bias(self, bias):
        return bias + self.gamma * tf.nn.relu(bias)


class WSquareRule(Rule):
    """LRP-w²: relevance split in proportion to the squared weights, whatever the inputs
    (inputs set to ones, bias dropped). Meant for the first layer of real-valued inputs.

    Ref. Montavon et al., Explaining Nonlinear Classification Decisions with Deep Taylor
    Decomposition (2017), https://doi.org/10.1016/j.patcog.2016.11.008
    """

    needs_weights = True

    def modify_input(self, inputs):
        return tf.ones_like(inputs)

    def modify_kernel(self, kernel):
        return tf.square(kernel)

    def modify_bias(self, bias):
        return None


class FlatRule(Rule):
    """LRP-flat: relevance spread uniformly over each output's receptive field (weights and
    inputs set to ones, bias dropped).

    Ref. Lapuschkin et al., Unmasking Clever Hans Predictors and Assessing What Machines Really
    Learn (2019), https://doi.org/10.1038/s41467-019-08987-4
    """

    needs_weights = True

    def modify_input(self, inputs):
        return tf.ones_like(inputs)

    def modify_kernel(self, kernel):
        return tf.ones_like(kernel)

    def modify_bias(self, bias):
        return None


class ZBoxRule(Rule):
    """LRP-z^B for bounded inputs `low <= x <= high` (pixels): contributions
    `x_i w_ij - low_i w+_ij - high_i w-_ij`, bias dropped. Meant for the first layer.

    Ref. Montavon et al., Explaining Nonlinear Classification Decisions with Deep Taylor
    Decomposition (2017), https://doi.org/10.1016/j.patcog.2016.11.008

    Parameters
    ----------
    low, high
        Lowest and highest input values: numbers, or arrays that broadcast against one input
        (e.g. per channel, shape `(C,)`).
    """

    needs_weights = True

    def __init__(self, low, high):
        self.low = _bound(low, "low")
        self.high = _bound(high, "high")

    def _propagate(self, layer, relevance):
        (x,) = _single_input(layer, self)
        # The bounds are the same for every input of the batch: their terms `l w+ + h w-` are
        # computed on one input and broadcast over the batch.
        one = tf.concat([[1], tf.shape(x)[1:]], axis=0)
        low = tf.broadcast_to(tf.cast(self.low, x.dtype), one)
        high = tf.broadcast_to(tf.cast(self.high, x.dtype), one)
        positive, negative = tf.nn.relu(layer.kernel), -tf.nn.relu(-layer.kernel)
        # `x W` is the forward pass's output less its bias (no second convolution of the batch)
        z = (_without_bias(layer) - layer.apply([low], positive, None)
             - layer.apply([high], negative, None))
        scaled = self._scaled(relevance, z)
        # W = W+ + W-, so W^T s = W+^T s + W-^T s: two transposed products, not three, and
        # x W^T s - l W+^T s - h W-^T s = (x - l) W+^T s + (x - h) W-^T s
        gl, gh = stacked_vjp(layer, x, [positive, negative], scaled)
        return [(x - low) * gl + (x - high) * gh]


def _without_bias(layer) -> tf.Tensor:
    """`W x`: the layer's pre-activation output `W x + b` less its bias."""
    if layer.bias is None:
        return layer.outputs
    bias = layer.bias
    keras_layer = layer.node.layer
    if (getattr(keras_layer, "data_format", "channels_last") == "channels_first"
            and layer.outputs.shape.rank > 2):
        bias = tf.reshape(bias, (1, -1) + (1,) * (layer.outputs.shape.rank - 2))
    return layer.outputs - bias


def _bound(value, name):
    array = np.asarray(value, dtype=np.float64)
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite numbers. Received: {name}={value!r}")
    return float(array) if array.ndim == 0 else array.astype(np.float32)


class ZPlusRule(Rule):
    """LRP-z+: only the positive contributions `(x_i w_ij)+` (and `b+`) share the relevance;
    the AlphaBetaRule with alpha=1, beta=0.

    Ref. Montavon et al., Explaining Nonlinear Classification Decisions with Deep Taylor
    Decomposition (2017), https://doi.org/10.1016/j.patcog.2016.11.008
    """

    needs_weights = True

    def _propagate(self, layer, relevance):
        return alpha_beta(layer, relevance, 1.0, 0.0, self)


class AlphaBetaRule(Rule):
    """LRP-alpha-beta: `alpha` times the relevance split over the positive contributions minus
    `beta` times it split over the negative ones, with `alpha - beta = 1`.

    Ref. Bach et al. (2015), https://doi.org/10.1371/journal.pone.0130140

    Parameters
    ----------
    alpha, beta
        Weights of the positive and negative parts, `alpha >= 1`, `beta >= 0`,
        `alpha - beta = 1`.

    Notes
    -----
    Conservation needs every relevant output to have both positive and negative contributions
    (an output without negative ones passes `alpha` times its relevance).
    """

    needs_weights = True

    def __init__(self, alpha: float = 2.0, beta: float = 1.0):
        self.alpha = ensure_float(alpha, "alpha", minimum=1.0)
        self.beta = ensure_float(beta, "beta", minimum=0.0)
        if abs(self.alpha - self.beta - 1.0) > 1e-9:
            raise ValueError(
                f"`alpha` and `beta` must satisfy alpha - beta = 1. Received: alpha={alpha!r}, "
                f"beta={beta!r}")

    def _propagate(self, layer, relevance):
        return alpha_beta(layer, relevance, self.alpha, self.beta, self)


class PassRule(Rule):
    """Relevance handed through unchanged (what activations, reshapes and dropout do). On a
    weighted layer, only where its input and output have the same shape."""

    def _propagate(self, layer, relevance):
        return [relevance]

"""DeepLIFT with the Rescale rule."""

import keras
import numpy as np
import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.attributions.lrp.composites import Composite
from xplique.attributions.lrp.linear_maps import stabilize, vjp
from xplique.attributions.lrp.products import Product, rescaled_product_ratio
from xplique.attributions.lrp.propagation import Propagation
from xplique.attributions.lrp.rules import Rule
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled, fused
from xplique.commons.distribution import Rows

#: Stabiliser of the differences of pre-activations `z - z0` (DeepLIFT's fallback to the
#: gradient where the input hardly differs from the reference).
RESCALE_EPSILON = 1e-6


class RescaleRule(Rule):
    """DeepLIFT's linear rule with the Rescale multipliers, as an LRP rule: the relevance
    (contribution) of each output difference `z - z0` is split in proportion to the input
    differences' contributions `(x_i - x0_i) w_ij`. Elementwise nonlinearities then pass
    contributions unchanged (their multiplier `(y - y0) / (z - z0)` cancels)."""

    def _propagate(self, layer, relevance):
        if isinstance(relevance, Product):  # multiplied and divided in one pass
            scaled = rescaled_product_ratio(relevance, layer.outputs, layer.reference_outputs,
                                            RESCALE_EPSILON)
        else:
            scaled = _rescaled(relevance, layer.outputs, layer.reference_outputs,
                               tf.constant(RESCALE_EPSILON, layer.outputs.dtype))
        # The layer is linear without its bias: its input gradients do not depend on the
        # values it is applied to, so the inputs stand for the differences.
        gradients = vjp(layer, layer.inputs, layer.kernel, None, scaled)
        # The contributions `(x - x0) * g`, multiplied by the next layer backwards.
        return [Product(x, g, r)
                for x, r, g in zip(layer.inputs, layer.reference_inputs, gradients)]


def _rescale(relevance, outputs, reference_outputs, epsilon):
    return relevance / stabilize(outputs - reference_outputs, epsilon)


#: The division of the rule, one pass over the data where XLA runs (a contribution arriving
#: unmultiplied is multiplied in the same pass: :func:`rescaled_product_ratio`).
_rescaled = fused(_rescale)


class DeepLift(WhiteBoxExplainer):
    """DeepLIFT (Rescale rule): the difference of the score from its value at a reference
    input, attributed to the input differences `x - baseline`. The attributions sum to that
    difference (summation-to-delta).

    Ref. Shrikumar et al., Learning Important Features Through Propagating Activation
    Differences (2017), https://arxiv.org/abs/1704.02685

    Parameters
    ----------
    baseline
        The reference input: a number (every feature) or an array of one input's shape.

    The shared parameters (model, batch_size, operator, output_layer, reducer) are described in
    :class:`~xplique.attributions.base.WhiteBoxExplainer`. The default `reducer="sum"` keeps
    summation-to-delta per image.

    Notes
    -----
    Runs on the LRP engine (:mod:`xplique.attributions.lrp.propagation`): linear layers (Dense,
    convolutions, average pools, Add, folded batch norms) use :class:`RescaleRule`, elementwise
    activations pass contributions unchanged, which is what the Rescale multipliers give, and
    one reference forward pass per batch (of one input) provides the reference activations.
    Departure: the paper propagates max pools by their gradient (the winner's multiplier is
    the output's, so it receives `(x_w - x0_w) / (y - y0)` times the output's contribution),
    which breaks summation-to-delta when the winners at the input and at the reference differ;
    here the winner at the input receives the whole contribution, so the sum is kept. The
    score's relevance is `(output - reference output) * d score / d output` (the operator
    linearised at the input).
    A softmax is not elementwise: explain logits with `output_layer`.

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
    ...                           keras.layers.Dense(2)])
    >>> x = np.ones((2, 3), "float32")
    >>> explanations = DeepLift(model)(x, np.array([0, 1]))
    >>> bool(np.allclose(explanations.numpy().sum(-1),
    ...      model(x).numpy()[[0, 1], [0, 1]] - model(np.zeros((1, 3))).numpy()[0, [0, 1]],
    ...      atol=1e-5))
    True
    """

    def __init__(self, model, baseline=0.0, batch_size=32, operator=None, output_layer=None,
                 reducer="sum", *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self.baseline = _ensure_baseline(baseline)
        propagation = Propagation(self._scored_model,
                                  Composite(by_type={keras.layers.Layer: RescaleRule()}))
        baseline_tensor = tf.constant(self.baseline, tf.float32)

        def contributions(inputs, targets):
            reference = tf.broadcast_to(baseline_tensor, (1,) + tuple(inputs.shape[1:]))
            return propagation.relevance(inputs, targets, self.operator, reference=reference)

        self._contributions = Compiled(contributions, split=Rows())

    def _explain_group(self, inputs, targets, first_input):
        shape = tuple(inputs.shape[1:])
        if self.baseline.ndim and not _broadcasts(self.baseline.shape, shape):
            raise ValueError(
                f"`baseline` must be a number or an array of one input's shape {shape}. "
                f"Received: baseline.shape={self.baseline.shape}")
        return batched(self._contributions, [inputs, targets], self.batch_size)


def _ensure_baseline(baseline) -> np.ndarray:
    try:
        array = np.asarray(baseline, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError("`baseline` must be a number or an array of numbers. Received: "
                        f"baseline={baseline!r}") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`baseline` must be finite. Received: baseline={baseline!r}")
    return array


def _broadcasts(source, target) -> bool:
    try:
        return tuple(np.broadcast_shapes(tuple(source), tuple(target))) == tuple(target)
    except ValueError:
        return False

"""Layer-wise Relevance Propagation."""

from typing import Dict

from xplique.attributions.base import WhiteBoxExplainer
from xplique.attributions.lrp.composites import ensure_composite
from xplique.attributions.lrp.propagation import Propagation
from xplique.attributions.lrp.rules import Rule
from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.distribution import Rows


class LRP(WhiteBoxExplainer):
    """Layer-wise Relevance Propagation: the score is redistributed layer by layer, from the
    output back to the input, by a rule per layer.

    Ref. Bach et al., On Pixel-Wise Explanations for Non-Linear Classifier Decisions by
    Layer-Wise Relevance Propagation (2015), https://doi.org/10.1371/journal.pone.0130140 ;
    Montavon et al., Layer-Wise Relevance Propagation: An Overview (2019),
    https://doi.org/10.1007/978-3-030-28954-6_10

    An explanation is one forward and one backward pass: every rule is a modification of a
    layer's weights, inputs and denominator inside an ordinary backward pass
    (:mod:`xplique.attributions.lrp.rules`), so all rules run in one compiled kernel.

    Parameters
    ----------
    composite
        The rules: None (ZeroRule on every layer), one rule (on every Dense and convolution),
        or a :class:`~xplique.attributions.lrp.composites.Composite` such as
        `EpsilonGammaBox(low, high)`. Average pools, Add and Average split relevance in
        proportion to their inputs' contributions, max pools winner-take-all, activations,
        reshapes and dropout pass it unchanged, batch norms are folded into the layer before.

    The shared parameters (model, batch_size, operator, output_layer, reducer) are described in
    :class:`~xplique.attributions.base.WhiteBoxExplainer`. The default `reducer="sum"` keeps
    the total relevance of each pixel.

    Notes
    -----
    The relevance of the scored output is `output * d score / d output`: for classification,
    the logit of the target class (explain logits, not probabilities: pass `output_layer`
    when the model ends with a softmax, which otherwise passes relevance unchanged). Models are
    Sequential or functional Keras models with one input; a layer the engine cannot handle
    raises a ValueError naming it.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from xplique.attributions.lrp import EpsilonRule
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
    ...                           keras.layers.Dense(2)])
    >>> LRP(model, EpsilonRule(0.01))(np.ones((4, 3), "float32"), np.array([0, 1, 0, 1])).shape
    TensorShape([4, 3])
    """

    def __init__(self, model, composite=None, batch_size=32, operator=None, output_layer=None,
                 reducer="sum", *, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self.composite = ensure_composite(composite)
        propagation = Propagation(self._scored_model, self.composite)
        self._propagation = propagation
        self._relevance = Compiled(
            lambda inputs, targets: propagation.relevance(inputs, targets, self.operator),
            split=Rows())

    @property
    def rules(self) -> Dict[str, Rule]:
        """The rule of each linear layer, by layer name (see `lrp.inspect_rules`)."""
        return self._propagation.rules()

    def _explain_group(self, inputs, targets, first_input):
        return batched(self._relevance, [inputs, targets], self.batch_size)

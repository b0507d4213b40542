"""KernelSHAP: Shapley values estimated by a weighted linear regression."""

import tensorflow as tf

from xplique.attributions.base import BlackBoxExplainer
from xplique.commons.interpretable import (
    UniformSimilarity,
    coalition_kernel,
    default_reference,
    efficient_regression,
    explain_with_surrogate,
)
from xplique.commons.masks import (
    first_features,
    reference_value,
    shapley_coalitions,
    shapley_size_distribution,
)
from xplique.commons.model_adapters import black_box_model
from xplique.commons.random import pair_uniform
from xplique.commons.validation import ensure_positive_int, ensure_seed


def _unweighted_efficient_regression(coalitions, scores, weights, nb_features):
    return efficient_regression(coalitions, scores, nb_features)


class KernelShap(BlackBoxExplainer):
    """KernelSHAP: Shapley values of the interpretable features, from the scores of coalitions
    drawn with the Shapley kernel.

    Coalitions (features kept as they are, the others shown as `ref_value`) of size `k` among
    `M` features are drawn with probability proportional to `(M - 1) / (k (M - k))`, i.e. to
    the Shapley kernel weight of a coalition times the number of coalitions of that size, so
    the regression of the scores on the coalitions is unweighted. The coefficients are fitted
    under the efficiency constraint `sum_f phi_f = g(x) - g(ref)`, with `g(ref)` as intercept.

    Ref. Lundberg & Lee, A Unified Approach to Interpreting Model Predictions (2017),
    https://arxiv.org/abs/1705.07874

    Parameters
    ----------
    map_to_interpret_space
        The features of each input, as in :class:`~xplique.attributions.Lime`.
    nb_samples
        Model evaluations per input (>= 2): the empty and the full coalitions, then
        `nb_samples - 2` drawn coalitions. With 2, only the empty and full coalitions are
        evaluated and `g(x) - g(ref)` is shared equally among the features (the minimum-norm
        solution of the efficiency constraint).
    ref_value
        Value shown for the features left out (a number or an array broadcastable to one
        input). None means 0.5 for RGB images and 0 otherwise.

    Notes
    -----
    The paper enforces `phi_0 = g(ref)` and efficiency with infinite weights on the empty and
    full coalitions; here both are evaluated (samples 0 and 1 of every input) and the
    constrained least-squares problem is solved exactly, so the attributions always sum to
    `g(x) - g(ref)`. Xplique fits an unconstrained `LinearRegression` instead; for a linear model
    both give `w (x - ref)`.
    """

    def __init__(self, model, batch_size=64, operator=None, map_to_interpret_space=None,
                 nb_samples=800, ref_value=None, *, seed=None, verbose=False, strategy=None):
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        self.map_to_interpret_space = map_to_interpret_space
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples", minimum=2)
        self.ref_value = ref_value
        self.seed = seed
        ensure_seed(seed)
        self.verbose = bool(verbose)
        self._similarity = UniformSimilarity()
        self._coalition_scores = coalition_kernel(
            self._scored_model, self.operator, self.nb_samples, self._coalitions,
            self._similarity,
        )

    @staticmethod
    def _coalitions(seed, first_pair, sample_index, nb_features, width, nb_cells,
                    size_distribution):
        nb_pairs = tf.shape(sample_index)[0]
        noise = pair_uniform(seed, first_pair, nb_pairs, (nb_cells,), stream=0)[:, :width]
        size_noise = pair_uniform(seed, first_pair, nb_pairs, (), stream=1)
        drawn = shapley_coalitions(noise, size_noise, nb_features, size_distribution)
        full = first_features(nb_features, width)
        index = sample_index[:, None]
        return tf.where(index == 0, 0.0, tf.where(index == 1, full, drawn))

    def _explain_group(self, inputs, targets, first_input):
        ref = default_reference(inputs.shape[1:]) if self.ref_value is None else self.ref_value
        return explain_with_surrogate(
            self._coalition_scores, inputs, targets, first_input,
            nb_samples=self.nb_samples, batch_size=self.batch_size,
            mapping=self.map_to_interpret_space, fit=_unweighted_efficient_regression,
            seed=ensure_seed(self.seed), reference=reference_value(ref, inputs.shape[1:]),
            similarity=self._similarity, sampler_table=shapley_size_distribution,
            verbose=self.verbose, description="KernelShap",
        )

"""SmoothGrad, SquareGrad and VarGrad: one noise-sampling mechanism, three statistics."""

import tensorflow as tf

from xplique.attributions.base import WhiteBoxExplainer
from xplique.commons.all_targets import sampled_target_gradients_of
from xplique.commons.batching import reduce_over_samples
from xplique.commons.gradients import sampled_gradients_of
from xplique.commons.random import pair_normal
from xplique.commons.statistics import Mean, MeanOfSquares, Statistic, Variance
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed


class _NoisyGradients(WhiteBoxExplainer):
    """Gradients at `nb_samples` points `x + eps`, `eps ~ N(0, noise^2)`, reduced online by a
    statistic. Concrete presets only choose the statistic."""

    statistic: Statistic
    minimum_samples = 1

    def __init__(self, model, output_layer=None, batch_size=32, operator=None, reducer="mean",
                 nb_samples=50, noise=0.2, *, seed=None, strategy=None):
        self._setup_white_box(model, output_layer, batch_size, operator, reducer, strategy=strategy)
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples", self.minimum_samples)
        self.noise = ensure_float(noise, "noise", minimum=0.0)
        self.seed = seed
        ensure_seed(seed)
        self._noisy_gradients = sampled_gradients_of(
            self._scored_model, self.operator, self.nb_samples, self._noisy_points,
            self.statistic,
        )
        self._noisy_target_gradients = sampled_target_gradients_of(
            self._scored_model, self.nb_samples, self._noisy_points, self.statistic
        )

    def _noisy_points(self, inputs, sample_index, first_pair, seed):
        noise = pair_normal(seed, first_pair, tf.shape(inputs)[0], inputs.shape[1:])
        return inputs + self.noise * noise, None

    def _explain_group(self, inputs, targets, first_input):
        seed = tf.constant(ensure_seed(self.seed), tf.int64)
        return reduce_over_samples(
            self._noisy_gradients, [inputs, targets], self.nb_samples, self.batch_size,
            self.statistic, first_pair=first_input * self.nb_samples, extras=(seed,),
        )

    _top_k_in_kernel = False  # the top classes are those of the inputs, not of noisy copies

    def _explain_group_targets(self, inputs, indices, first_input):
        seed = tf.constant(ensure_seed(self.seed), tf.int64)
        return reduce_over_samples(
            self._noisy_target_gradients, [inputs, indices], self.nb_samples, self.batch_size,
            self.statistic, first_pair=first_input * self.nb_samples, extras=(seed,),
        )


class SmoothGrad(_NoisyGradients):
    """SmoothGrad: the mean gradient over noisy copies of the input.

    `phi(x) = E_eps[grad g(x + eps)]`, `eps ~ N(0, noise^2)`, estimated with `nb_samples` draws.

    Ref. Smilkov et al., SmoothGrad: removing noise by adding noise (2017),
    https://arxiv.org/abs/1706.03825

    Parameters
    ----------
    nb_samples
        Noisy samples per input.
    noise
        Standard deviation of the Gaussian noise, in input units (absolute, as in Xplique).

    Notes
    -----
    The paper sets the noise relative to the input range; here (as in Xplique) `noise` is the
    absolute standard deviation. The noise of sample `k` of input `i` does not depend on
    `batch_size`, so batched and unbatched runs agree.
    """

    statistic = Mean()


class SquareGrad(_NoisyGradients):
    """SquareGrad: the mean squared gradient over noisy copies of the input,
    `phi(x) = E_eps[(grad g(x + eps))^2]`.

    Ref. Hooker et al., A Benchmark for Interpretability Methods in Deep Neural Networks
    (2019), https://arxiv.org/abs/1806.10758

    Parameters are those of :class:`SmoothGrad`.
    """

    statistic = MeanOfSquares()


class VarGrad(_NoisyGradients):
    """VarGrad: the unbiased variance of the gradient over noisy copies of the input,
    `phi(x) = Var_eps[grad g(x + eps)]` (needs `nb_samples >= 2`).

    Ref. Adebayo et al., Sanity Checks for Saliency Maps (2018),
    https://arxiv.org/abs/1810.03292

    Parameters are those of :class:`SmoothGrad`.

    Notes
    -----
    The variance is computed online (Chan et al.'s parallel update), so it does not lose
    precision by subtracting large sums of squares.
    """

    statistic = Variance()
    minimum_samples = 2

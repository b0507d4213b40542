"""LIME: Local Interpretable Model-agnostic Explanations."""

import numpy as np
import tensorflow as tf

from xplique.attributions.base import BlackBoxExplainer
from xplique.commons.interpretable import (
    PerturbedSimilarity,
    Similarity,
    coalition_kernel,
    default_reference,
    explain_with_surrogate,
    sklearn_fit,
    weighted_ridge,
)
from xplique.commons.masks import bernoulli_coalitions, reference_value, segment_sums
from xplique.commons.model_adapters import black_box_model
from xplique.commons.random import pair_uniform
from xplique.commons.validation import (
    ensure_callable,
    ensure_choice,
    ensure_float,
    ensure_positive_int,
    ensure_seed,
)

_DEFAULT_ALPHA = 2.0


class ExponentialSimilarity(Similarity):
    """`exp(-d^2 / width^2)`, `d` the euclidean or cosine distance between an input and its
    perturbed copy (flattened).

    A perturbed copy is `ref + c[segment] * (x - ref)`, so both distances are sums over the
    input's segments: the squared euclidean distance is `sum_f (1 - c_f)^2 E_f` with
    `E_f = |x - ref|^2` over segment `f`, and the dot products and norms of the cosine are
    likewise linear or quadratic in `c`. The per-segment sums are computed once per input
    (:meth:`statistics`); each sample's weight then costs O(features), not O(input size).
    """

    def __init__(self, distance_mode: str, kernel_width: float):
        self.distance_mode = distance_mode
        self.kernel_width = kernel_width

    def statistics(self, inputs, reference, maps, width):
        reference = tf.broadcast_to(reference, tf.shape(inputs))
        delta = inputs - reference

        def per_cell(a, b):  # products summed over the channels of an image
            product = a * b
            return tf.reduce_sum(product, -1) if product.shape.rank == 4 else product

        if self.distance_mode == "euclidean":
            terms = [per_cell(delta, delta)]
        else:
            terms = [per_cell(inputs, reference), per_cell(inputs, delta),
                     per_cell(reference, reference), per_cell(reference, delta),
                     per_cell(delta, delta)]
        return segment_sums(tf.stack(terms, -1), maps, width)

    def __call__(self, pair_inputs, coalitions, perturbed, statistics):
        kept = coalitions[:, :, None]
        if self.distance_mode == "euclidean":
            squared = tf.reduce_sum(tf.square(1.0 - kept) * statistics, axis=[1, 2])
        else:
            # x.ref, x.(x - ref), ref.ref, ref.(x - ref), |x - ref|^2 per segment
            x_ref, x_delta, ref_ref, ref_delta, delta_delta = (
                statistics[:, :, i] for i in range(5))
            c = coalitions
            dot = tf.reduce_sum(x_ref + c * x_delta, 1)
            x_norm = tf.reduce_sum(x_ref + x_delta, 1)
            p_norm = tf.reduce_sum(ref_ref + 2.0 * c * ref_delta + c * c * delta_delta, 1)
            cosine = dot * tf.math.rsqrt(tf.maximum(x_norm, 1e-12)) \
                * tf.math.rsqrt(tf.maximum(p_norm, 1e-12))
            squared = tf.square(1.0 - cosine)
        return tf.exp(-squared / self.kernel_width**2)


def linear_fit_for(interpretable_model):
    """The batched solver for the default and the plain sklearn linear models, else a
    per-input clone-and-fit of `interpretable_model`."""
    if interpretable_model is None:
        return lambda *design: weighted_ridge(*design, alpha=_DEFAULT_ALPHA)
    from sklearn.linear_model import LinearRegression, Ridge  # pylint: disable=C0415

    params = interpretable_model.get_params() if hasattr(interpretable_model, "get_params") \
        else {}
    plain = params.get("fit_intercept", False) and not params.get("positive", False)
    if type(interpretable_model) is Ridge and plain and np.ndim(params["alpha"]) == 0:
        alpha = float(params["alpha"])
        return lambda *design: weighted_ridge(*design, alpha=alpha)
    if type(interpretable_model) is LinearRegression and plain:
        return lambda *design: weighted_ridge(*design, alpha=0.0)
    if not (hasattr(interpretable_model, "fit") and hasattr(interpretable_model, "get_params")):
        raise TypeError(
            "`interpretable_model` must be None or a scikit-learn regressor exposing `coef_` "
            f"after `fit`. Received: {interpretable_model!r}"
        )
    return sklearn_fit(interpretable_model)


class Lime(BlackBoxExplainer):
    """LIME: the coefficients of a weighted linear model fitted to the scores of random
    coalitions of interpretable features.

    Each input is split into features by `map_to_interpret_space`; `nb_samples` coalitions keep
    each feature with probability `prob` and show the others as `ref_value`. A linear model
    (ridge regression, alpha=2, by default) is fitted to the scores with the sample weights
    `exp(-d^2 / kernel_width^2)`, `d` the distance between the input and its perturbed copy,
    and each feature's coefficient is spread over its cells.

    Ref. Ribeiro et al., "Why Should I Trust You?": Explaining the Predictions of Any
    Classifier (2016), https://arxiv.org/abs/1602.04938

    Parameters
    ----------
    interpretable_model
        None (weighted ridge regression with intercept, alpha=2) or a scikit-learn regressor
        exposing `coef_`; it is cloned for every input, never refitted in place.
    similarity_kernel
        None or `kernel(inputs, coalitions, perturbed) -> (n,)` sample weights, a TensorFlow
        function of one batch of pairs (replaces `distance_mode` and `kernel_width`).
    pertub_func
        None or `pertub_func(nb_features, nb_samples) -> (nb_samples, nb_features)` binary
        coalitions (1 keeps a feature, 0 shows `ref_value`), called on the host once per input
        (its own randomness; `seed` does not apply).
    map_to_interpret_space
        The features of each input: None (superpixels for images, one feature per cell for
        time series and tabular rows), a callable `f(sample) -> integer segment ids` of the
        cell shape (`(H, W)`, `(T, W)` or `(W,)`), or precomputed maps `(N, *cells)`, one per
        input of the call.
    ref_value
        Value shown for the features left out: a number, or an array broadcastable to one
        input (e.g. per channel). None means 0.5 for RGB images and 0 otherwise.
    nb_samples
        Coalitions per input.
    distance_mode
        "euclidean" or "cosine".
    kernel_width
        Width of the exponential similarity kernel.
    prob
        Probability of keeping each feature in a coalition.

    Notes
    -----
    `batch_size=None` (the default, as in Xplique) evaluates everything in one pass, up to
    :data:`xplique.commons.batching.MAX_BATCH_SIZE` evaluations per pass.
    The default model is solved in closed form for all inputs of a block at once; a custom
    scikit-learn model is fitted on the host input by input (slower). Default image features
    come from scikit-image (`quickshift` for RGB, `felzenszwalb` otherwise), computed on the host.
    """

    def __init__(self, model, batch_size=None, operator=None, interpretable_model=None,
                 similarity_kernel=None, pertub_func=None, map_to_interpret_space=None,
                 ref_value=None, nb_samples=150, distance_mode="euclidean", kernel_width=45.0,
                 prob=0.5, *, seed=None, verbose=False, strategy=None):
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples")
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        self.interpretable_model = interpretable_model
        self._fit = linear_fit_for(interpretable_model)
        self.distance_mode = ensure_choice(distance_mode, "distance_mode", ("euclidean", "cosine"))
        self.kernel_width = ensure_float(kernel_width, "kernel_width")
        if self.kernel_width <= 0:
            raise ValueError(f"`kernel_width` must be > 0. Received: kernel_width={kernel_width}")
        self.prob = ensure_float(prob, "prob", minimum=0.0)
        if self.prob > 1.0:
            raise ValueError(f"`prob` must lie in [0, 1]. Received: prob={prob!r}")
        self.similarity_kernel = similarity_kernel
        if similarity_kernel is not None:
            ensure_callable(similarity_kernel, "similarity_kernel")
        self.pertub_func = pertub_func
        if pertub_func is not None:
            ensure_callable(pertub_func, "pertub_func")
        self.map_to_interpret_space = map_to_interpret_space
        self.ref_value = ref_value
        self.seed = seed
        ensure_seed(seed)
        self.verbose = bool(verbose)
        self._similarity = (
            ExponentialSimilarity(self.distance_mode, self.kernel_width)
            if similarity_kernel is None else PerturbedSimilarity(similarity_kernel)
        )
        self._coalition_scores = coalition_kernel(
            self._scored_model, self.operator, self.nb_samples, self._coalitions,
            self._similarity,
        )

    def _coalitions(self, seed, first_pair, sample_index, nb_features, width, nb_cells,
                    designs):
        if self.pertub_func is not None:  # rows drawn on the host: (n, nb_samples, width)
            return tf.gather(designs, sample_index, batch_dims=1)
        noise = pair_uniform(seed, first_pair, tf.shape(sample_index)[0], (nb_cells,))
        return bernoulli_coalitions(noise[:, :width], nb_features, self.prob)

    def _host_designs(self, nb_features, width):
        designs = np.zeros((len(nb_features), self.nb_samples, width), np.float32)
        for i, count in enumerate(nb_features):
            drawn = np.asarray(self.pertub_func(int(count), self.nb_samples), np.float32)
            if drawn.shape != (self.nb_samples, count):
                raise ValueError(
                    f"`pertub_func` must return an array of shape (nb_samples, nb_features) = "
                    f"({self.nb_samples}, {count}). Received: shape {drawn.shape}"
                )
            if not np.all((drawn == 0) | (drawn == 1)):
                raise ValueError(
                    "`pertub_func` must return binary coalitions (1 keeps a feature, 0 shows "
                    f"`ref_value`). Received values {np.unique(drawn)[:5]}"
                )
            designs[i, :, :count] = drawn
        return designs

    def _explain_group(self, inputs, targets, first_input):
        ref = default_reference(inputs.shape[1:]) if self.ref_value is None else self.ref_value
        return explain_with_surrogate(
            self._coalition_scores, inputs, targets, first_input,
            nb_samples=self.nb_samples, batch_size=self.batch_size,
            mapping=self.map_to_interpret_space, fit=self._fit, seed=ensure_seed(self.seed),
            reference=reference_value(ref, inputs.shape[1:]), similarity=self._similarity,
            sampler_table=self._host_designs if self.pertub_func is not None else None,
            verbose=self.verbose, description="Lime",
        )

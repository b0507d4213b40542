"""TCAV: how often a concept direction raises a class score, and whether that is significant."""

import dataclasses
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import iter_groups, output_size, prepare_targets, to_tensor
from xplique.commons.model_surgery import layer_output_and_gradient, split_at
from xplique.commons.operators import get_operator
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed
from xplique.concepts.cav import CLASSIFIERS, Cav, fit_direction
from xplique.types import InputsLike, LayerRef


@dataclasses.dataclass
class TcavSignificance:
    """Result of :meth:`Tcav.significance`.

    Attributes
    ----------
    scores
        TCAV score of the concept for each run (CAV fitted against that run's random
        counter-examples), `(nb_runs,)`.
    random_scores
        TCAV score of a random CAV for each run (random examples against that run's
        counter-examples): the null distribution, `(nb_runs,)`.
    p_value
        Two-sided p-value of Student's two-sample t-test of `scores` against `random_scores`
        (`scipy.stats.ttest_ind`).
    threshold
        `alpha / nb_tests`: the Bonferroni-corrected level the p-value is compared with.
    significant
        `p_value < threshold`.
    """

    scores: np.ndarray
    random_scores: np.ndarray
    p_value: float
    threshold: float
    significant: bool

    @property
    def score(self) -> float:
        """Mean TCAV score of the concept over the runs."""
        return float(np.mean(self.scores))


class Tcav:
    """Testing with CAVs: the fraction of inputs whose class score increases along a CAV,
    `TCAV = |{x : grad_a S_label(x) . v > 0}| / N`, `a` the activations of `target_layer`.

    Ref. Kim et al., Interpretability Beyond Feature Attribution: Quantitative Testing with
    Concept Activation Vectors (TCAV) (2018), https://arxiv.org/abs/1711.11279

    Parameters
    ----------
    model
        A Keras model (Sequential, functional or subclassed). It is never modified.
    target_layer
        The layer of the CAV, by name or by index in `model.layers`.
    batch_size
        Inputs per forward+backward pass.
    operator
        Keyword-only. The score `S`, as for the attribution methods (None: classification,
        the `label`-th output).

    Notes
    -----
    One compiled forward+backward pass per batch gives the gradient of the score with respect
    to the layer's output and its dot products with the CAVs, inside the graph; gradients are
    never returned. Full batches run a kernel with the batch size static, so the graph
    optimiser drops the forward work the gradient does not read (all of it when the head after
    the layer is linear); the last, shorter batch runs a kernel traced for any batch size.
    :meth:`significance` adds the paper's statistical test.
    """

    def __init__(self, model, target_layer: LayerRef, batch_size=64, *, operator=None):
        self.model = model
        self.target_layer = target_layer
        self.batch_size = ensure_positive_int(batch_size, "batch_size")
        self.operator = get_operator(operator)
        self._split = split_at(model, target_layer)
        # full chunks run a kernel whose batch size is static, the last chunk the relaxed one
        self._full_derivatives = Compiled(self._derivatives_kernel(self.batch_size))
        self._derivatives = Compiled(self._derivatives_kernel(None))
        self._layer_sizes = {}

    def _derivatives_kernel(self, rows: Optional[int]):
        """The kernel `(inputs, targets, cavs) -> (N, K)`: dot products of the layer gradient
        of each input with each CAV `(K, D)`.

        With `rows`, the chunk's batch size is pinned to `rows` in the graph: every shape is
        then static, so TensorFlow's graph optimiser folds the shapes the gradient reads
        (`tf.shape` of the activations, e.g. in the gradient of a global pooling) into
        constants and drops whatever part of the forward pass the gradient does not need
        (all of it when the head after the layer is linear: its gradient is a constant).
        With a relaxed batch size those shapes are read at run time from the activations,
        which keeps the whole forward pass alive. (The kernel takes exactly its three tensors,
        no defaulted parameter: a concrete function whose Python signature has one more fails
        its structured binding on every call and formats the inputs into the error message.)
        """

        def kernel(inputs, targets, cavs):
            if rows is not None and not tf.distribute.has_strategy():
                inputs = tf.ensure_shape(inputs, [rows] + inputs.shape[1:].as_list())
                targets = tf.ensure_shape(targets, [rows] + targets.shape[1:].as_list())
            return self._directional_derivatives(inputs, targets, cavs)

        return kernel

    def _directional_derivatives(self, inputs, targets, cavs):
        """`(N, K)` dot products of the layer gradient of each input with each CAV `(K, D)`."""
        _, gradients = layer_output_and_gradient(self._split, self.operator, inputs, targets)
        flat = tf.reshape(tf.cast(gradients, tf.float32), [tf.shape(inputs)[0], -1])
        return tf.matmul(flat, cavs, transpose_b=True)

    def _targets(self, label, inputs):
        if isinstance(label, (bool, np.bool_)):
            raise TypeError(f"`label` must be a class index (int). Received: label={label!r}")
        if isinstance(label, (int, np.integer)):
            indices = tf.fill([int(inputs.shape[0])], int(label))
            return prepare_targets(indices, lambda: output_size(self.model, inputs))
        row = to_tensor(label, "label")
        if row.shape.rank != 1:
            raise ValueError(
                "`label` must be a class index (int) or one target row (n_outputs,). "
                f"Received: label of shape {tuple(row.shape)}"
            )
        return tf.tile(row[None], [int(inputs.shape[0]), 1])

    def directional_derivatives(self, inputs: InputsLike, label, cavs) -> tf.Tensor:
        """Directional derivatives `(N, K)` of the score of `label` along each of `cavs`
        (one CAV, or `K` CAVs stacked on a first axis), `batch_size` inputs per pass."""
        cavs = to_tensor(cavs, "cav")
        parts = []
        for inputs_group, _ in iter_groups(inputs, None, self.batch_size, self.model):
            targets = self._targets(label, inputs_group)
            if not parts:
                cavs = self._flat_cavs(cavs, inputs_group)
            parts.append(batched(lambda x, y: self._kernel(x)(x, y, cavs),
                                 [inputs_group, targets], self.batch_size))
        if not parts:
            raise ValueError("`inputs` is empty: it yielded no input")
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)

    def _kernel(self, chunk) -> Compiled:
        """The static-batch kernel for a full chunk, else the relaxed one."""
        return self._full_derivatives if chunk.shape[0] == self.batch_size else self._derivatives

    def _layer_size(self, inputs) -> int:
        """Values of one output of the layer, found by one eager pass per input shape (cached:
        an eager pass costs about as much as the compiled batch it precedes)."""
        key = tuple(inputs.shape[1:])
        if key not in self._layer_sizes:
            self._layer_sizes[key] = int(np.prod(self._split(inputs[:1])[0].shape[1:]))
        return self._layer_sizes[key]

    def _flat_cavs(self, cavs, inputs):
        size = self._layer_size(inputs)
        if cavs.shape.num_elements() == size:
            return tf.reshape(cavs, [1, size])
        if cavs.shape.rank >= 1 and cavs.shape.num_elements() == int(cavs.shape[0]) * size:
            return tf.reshape(cavs, [int(cavs.shape[0]), size])
        raise ValueError(
            f"`cav` must have the {size} values of one output of layer {self.target_layer!r}. "
            f"Received: cav.shape={tuple(cavs.shape)}"
        )

    def score(self, inputs: InputsLike, label, cav) -> float:
        """TCAV score of `cav` for the class `label` on `inputs`: the fraction of inputs whose
        score has a positive directional derivative along `cav`, in [0, 1].

        Parameters
        ----------
        inputs
            Numpy array, tensor or `tf.data.Dataset` of inputs (of the class `label`, as in
            the paper).
        label
            The class index (int), or one target row `(n_outputs,)` for other operators.
        cav
            A CAV from :class:`~xplique.concepts.Cav` (any shape with the layer's size).
        """
        derivatives = self.directional_derivatives(inputs, label, cav)[:, 0]
        return float(tf.reduce_mean(tf.cast(derivatives > 0.0, tf.float32)))

    __call__ = score

    def significance(self, inputs: InputsLike, label, concept_examples: InputsLike,
                     random_examples: InputsLike, nb_runs: int = 10, classifier="SGD",
                     alpha: float = 0.05, nb_tests: int = 1,
                     seed: Optional[int] = None) -> TcavSignificance:
        """The paper's statistical test of a concept's TCAV score against random directions.

        Each run draws, without replacement, two disjoint sets of random examples of the size
        of the concept set (or half the random pool if smaller): counter-examples `N_r` and a
        random "concept" `R_r`. It fits a CAV of the concept against `N_r` and a random CAV of
        `R_r` against `N_r`, and scores both. A two-sided t-test (`scipy.stats.ttest_ind`)
        compares the `nb_runs` concept scores with the `nb_runs` random ones: a small p-value
        says the concept's effect on the class is not what a random direction gives.

        Parameters
        ----------
        inputs
            Inputs of the class `label`, as for :meth:`score`.
        label
            The class index.
        concept_examples
            Examples of the concept.
        random_examples
            A pool of random examples (at least 2).
        nb_runs
            Number of runs (the paper uses many, e.g. 500 random sets; 10 to 50 is usual).
        classifier
            The CAV classifier, as in :class:`~xplique.concepts.Cav`.
        alpha
            Significance level.
        nb_tests
            Number of (concept, class, layer) hypotheses tested together: the p-value is
            compared with `alpha / nb_tests` (Bonferroni correction, as the paper recommends
            when testing many concepts).
        seed
            Fixes the random sets and the classifiers (None draws a fresh seed).

        Returns
        -------
        A :class:`TcavSignificance`.

        Notes
        -----
        Activations of the concept and random examples are computed once, and the layer
        gradients of `inputs` once: every CAV of every run is scored from the same
        forward+backward passes (`2 nb_runs` dot products per input). The paper also drops
        CAVs whose accuracy is low; this test keeps all of them. When both sets of scores are
        constant the t statistic is undefined: the p-value is then 1 if their means agree and
        0 otherwise.
        """
        from scipy.stats import ttest_ind  # pylint: disable=import-outside-toplevel

        nb_runs = ensure_positive_int(nb_runs, "nb_runs", minimum=2)
        nb_tests = ensure_positive_int(nb_tests, "nb_tests")
        alpha = ensure_float(alpha, "alpha", minimum=0.0)
        if isinstance(classifier, str) and classifier not in CLASSIFIERS:
            raise ValueError(
                f"`classifier` must be one of {CLASSIFIERS} or a classifier object. "
                f"Received: classifier={classifier!r}"
            )
        seed = ensure_seed(seed)
        extractor = Cav(self.model, self.target_layer, classifier=classifier,
                        batch_size=self.batch_size)
        concept = extractor.activations(concept_examples, "concept_examples").numpy()
        pool = extractor.activations(random_examples, "random_examples").numpy()
        if len(pool) < 2:
            raise ValueError(
                f"`random_examples` must hold at least 2 examples. Received: {len(pool)}"
            )
        size = min(len(concept), len(pool) // 2)
        rng = np.random.default_rng(seed)
        no_test = np.zeros(size, bool)
        all_train = np.zeros(len(concept), bool)
        cavs = []
        for run in range(nb_runs):
            order = rng.permutation(len(pool))
            counter, random_concept = pool[order[:size]], pool[order[size:2 * size]]
            cavs.append(fit_direction(classifier, concept, counter, all_train, no_test,
                                      seed + run)[0])
            cavs.append(fit_direction(classifier, random_concept, counter, no_test, no_test,
                                      seed + run)[0])
        derivatives = self.directional_derivatives(inputs, label, np.stack(cavs))
        fractions = tf.reduce_mean(tf.cast(derivatives > 0.0, tf.float64), axis=0).numpy()
        scores, random_scores = fractions[0::2], fractions[1::2]
        p_value = _two_sided_p_value(ttest_ind, scores, random_scores)
        threshold = alpha / nb_tests
        return TcavSignificance(scores, random_scores, p_value, threshold,
                                bool(p_value < threshold))


def _two_sided_p_value(ttest_ind, scores, random_scores) -> float:
    if np.ptp(scores) == 0.0 and np.ptp(random_scores) == 0.0:
        return 1.0 if scores[0] == random_scores[0] else 0.0
    with warnings.catch_warnings():  # one constant group: scipy warns, the test stays valid
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_ind(scores, random_scores).pvalue)

"""Concept Activation Vectors: the direction of a concept in a layer's activation space."""

from typing import Callable, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import iter_groups
from xplique.commons.model_surgery import run_model, truncate_at
from xplique.commons.random import pair_uniform
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed
from xplique.types import InputsLike, LayerRef

#: The classifiers `Cav` builds by name ("mean" is the closed-form FastCAV).
CLASSIFIERS = ("SGD", "SVC", "mean")


def _is_classifier(value) -> bool:
    return all(callable(getattr(value, name, None)) for name in ("fit", "score"))


def _classifier_for(classifier, seed: int):
    """A fresh scikit-learn classifier for `classifier` ("SGD", "SVC" or a user object)."""
    # pylint: disable=import-outside-toplevel
    if classifier == "SGD":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(alpha=0.01, max_iter=1000, tol=1e-3, random_state=seed)
    if classifier == "SVC":
        from sklearn.svm import LinearSVC

        return LinearSVC(random_state=seed)
    return classifier


class Cav:
    """Concept Activation Vector: the normal of a linear boundary between the activations of
    concept examples (positives) and counter-examples (negatives) at `target_layer`.

    Ref. Kim et al., Interpretability Beyond Feature Attribution: Quantitative Testing with
    Concept Activation Vectors (TCAV) (2018), https://arxiv.org/abs/1711.11279

    Ref. Schmalwasser et al., FastCAV: Efficient Computation of Concept Activation Vectors for
    Explaining Deep Neural Networks (2025), https://arxiv.org/abs/2505.17883 ("mean")

    Parameters
    ----------
    model
        A Keras model (Sequential, functional or subclassed). It is never modified.
    target_layer
        The layer, by name or by index in `model.layers`.
    classifier
        "SGD" (`SGDClassifier(alpha=0.01, max_iter=1000, tol=1e-3)`), "SVC" (`LinearSVC()`),
        "mean" (the closed-form mean difference `mean(a+) - mean(a-)`, FastCAV), or any object
        with `fit(X, y)`, `score(X, y)` and, once fitted, `coef_` (fitted in place).
    test_fraction
        Share of the examples held out to measure the classifier's accuracy, in [0, 1).
    batch_size
        Inputs per forward pass when computing activations.
    verbose
        Print the held-out accuracy after each fit.
    seed
        Keyword-only. Fixes the train/test split and the classifier's randomness (None draws
        a fresh seed per fit).

    Attributes
    ----------
    accuracy
        Held-out accuracy of the last fit (None before a fit or when no example was held out).
    cav
        The last CAV fitted (None before a fit).

    Notes
    -----
    The CAV is `coef / ||coef||_1`, shaped like one output of the layer, and points towards
    the positives (they are labelled 1). Each example goes to the held-out set when its
    counter-based uniform draw (by position in its set, :mod:`xplique.commons.random`) is below
    `test_fraction`, so the split does not depend on `batch_size`. With "mean" the training
    activations are never held in memory: one streaming pass sums them per set on the device;
    only the held-out examples' activations are kept, to classify them at the end by the side
    of the midpoint `(mean(a+) + mean(a-)) / 2` they fall on.
    """

    def __init__(self, model, target_layer: LayerRef, classifier="SGD", test_fraction=0.2,
                 batch_size=64, verbose=False, *, seed=None):
        self.model = model
        self.target_layer = target_layer
        self._bottleneck = truncate_at(model, target_layer)
        if not (isinstance(classifier, str) and classifier in CLASSIFIERS) and not (
            not isinstance(classifier, str) and _is_classifier(classifier)
        ):
            raise ValueError(
                "`classifier` must be 'SGD', 'SVC', 'mean' or an object with fit(X, y), "
                f"score(X, y) and coef_. Received: classifier={classifier!r}"
            )
        self.classifier = classifier
        self.test_fraction = ensure_float(test_fraction, "test_fraction", minimum=0.0)
        if self.test_fraction >= 1.0:
            raise ValueError(
                f"`test_fraction` must lie in [0, 1). Received: test_fraction={test_fraction!r}"
            )
        self.batch_size = ensure_positive_int(batch_size, "batch_size")
        self.verbose = bool(verbose)
        self.seed = None if seed is None else ensure_seed(seed)
        self.accuracy: Optional[float] = None
        self.cav: Optional[tf.Tensor] = None
        self._flat = Compiled(self._flat_activations)
        self._sums = Compiled(self._split_sums)
        self._shape: Optional[Tuple[int, ...]] = None  # per-example layer output shape

    # -- activations ------------------------------------------------------------------------

    def _flat_activations(self, inputs):
        activations = tf.cast(run_model(self._bottleneck, inputs), tf.float32)
        return tf.reshape(activations, [tf.shape(activations)[0], -1])

    def _split_sums(self, inputs, held_out):
        """Sum of the training activations `(1, D)` and the held-out ones `(n_test, D)`."""
        flat = self._flat_activations(inputs)
        train = tf.cast(tf.logical_not(held_out), flat.dtype)
        return tf.linalg.matvec(flat, train, transpose_a=True)[None], flat[held_out]

    def _groups(self, data: InputsLike, name: str):
        """The in-memory groups of `data`, errors naming `name`."""
        try:
            for inputs, _ in iter_groups(data, None, self.batch_size, self.model):
                yield inputs
        except (ValueError, TypeError) as error:
            raise type(error)(f"`{name}`: {error}".replace("`inputs`", "the examples")) from None

    def _held_out(self, first: int, count: int, stream: int, seed: int) -> tf.Tensor:
        if self.test_fraction == 0.0:
            return tf.zeros([count], tf.bool)
        return pair_uniform(seed, first, count, (), stream=stream) < self.test_fraction

    def activations(self, data: InputsLike, name: str = "inputs") -> tf.Tensor:
        """Flattened activations `(N, D)` of `data` at the target layer, `batch_size` inputs
        per forward pass (datasets are streamed)."""
        parts = []
        for inputs in self._groups(data, name):
            if self._shape is None:
                self._shape = self._layer_shape(inputs)
            parts.append(batched(self._flat, [inputs], self.batch_size))
        if not parts:
            raise ValueError(f"`{name}` is empty: it yielded no example")
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)

    def _layer_shape(self, inputs) -> Tuple[int, ...]:
        """The per-example shape of the layer output: static when the graph knows it, else
        from one forward pass of one example."""
        try:
            shape = tuple(self._bottleneck.output.shape[1:])
            if all(size is not None for size in shape):
                return tuple(int(size) for size in shape)
        except (AttributeError, ValueError, TypeError):
            pass
        return tuple(run_model(self._bottleneck, inputs[:1]).shape[1:])

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, positive_dataset: InputsLike, negative_dataset: InputsLike) -> tf.Tensor:
        """Fit the CAV separating `positive_dataset` (concept examples) from
        `negative_dataset` (counter-examples).

        Parameters
        ----------
        positive_dataset, negative_dataset
            Numpy arrays, tensors or `tf.data.Dataset`s (batched or not) of model inputs.

        Returns
        -------
        The CAV, a float32 tensor shaped like one output of `target_layer`, unit L1 norm.
        """
        seed = ensure_seed(self.seed)
        if self.classifier == "mean":
            direction, accuracy, shape = self._fit_mean(positive_dataset, negative_dataset, seed)
        else:
            positives = self.activations(positive_dataset, "positive_dataset")
            negatives = self.activations(negative_dataset, "negative_dataset")
            shape = self._shape
            direction, accuracy = fit_direction(
                self.classifier, positives, negatives,
                self._held_out(0, int(positives.shape[0]), 0, seed).numpy(),
                self._held_out(0, int(negatives.shape[0]), 1, seed).numpy(), seed,
            )
        self.accuracy = accuracy
        if self.verbose:
            shown = "n/a (no held-out example)" if accuracy is None else f"{accuracy:.3f}"
            print(f"Cav ({self.classifier}) held-out accuracy: {shown}")
        self.cav = tf.reshape(tf.constant(direction, tf.float32), shape)
        return self.cav

    __call__ = fit

    def _fit_mean(self, positive_dataset, negative_dataset, seed):
        """FastCAV in one streaming pass per set: running sums of the training activations."""
        means, held, shape = [], [], None
        for stream, (data, name) in enumerate(
            ((positive_dataset, "positive_dataset"), (negative_dataset, "negative_dataset"))
        ):
            total, count, tests, seen = None, 0, [], 0
            for inputs in self._groups(data, name):
                n = int(inputs.shape[0])
                mask = self._held_out(seen, n, stream, seed)
                sums, test = _batched_sums(self._sums, inputs, mask, self.batch_size)
                total = sums if total is None else total + sums
                count += n - int(tf.reduce_sum(tf.cast(mask, tf.int32)))
                tests.append(test)
                seen += n
                if shape is None:
                    shape = self._layer_shape(inputs)
            if count == 0:
                raise ValueError(
                    f"`{name}` must leave at least one training example after holding out "
                    f"test_fraction={self.test_fraction}. Received {seen} example(s)"
                )
            means.append(total / float(count))
            held.append(tf.concat(tests, axis=0))
        difference = means[0] - means[1]
        direction = _unit_l1(difference.numpy().astype(np.float64))
        accuracy = _midpoint_accuracy(difference, (means[0] + means[1]) / 2.0, *held)
        return direction, accuracy, shape


def _batched_sums(kernel: Callable, inputs, held_out, batch_size: int):
    """Training sum `(D,)` and held-out activations of one group, `batch_size` per pass."""
    sums: List[tf.Tensor] = []
    tests: List[tf.Tensor] = []

    def step(x, mask):
        chunk_sum, chunk_test = kernel(x, mask)
        sums.append(chunk_sum)
        tests.append(chunk_test)
        return chunk_sum

    batched(step, [inputs, held_out], batch_size)
    return tf.add_n(sums)[0], tf.concat(tests, axis=0)


def _unit_l1(direction: np.ndarray) -> np.ndarray:
    norm = np.abs(direction).sum()
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(
            "The positive and negative examples have the same activations at this layer, so "
            "no concept direction separates them"
        )
    return direction / norm


def _midpoint_accuracy(direction, midpoint, positives, negatives) -> Optional[float]:
    total = int(positives.shape[0]) + int(negatives.shape[0])
    if total == 0:
        return None
    right = tf.reduce_sum(tf.cast(tf.linalg.matvec(positives - midpoint, direction) > 0,
                                  tf.int32))
    right += tf.reduce_sum(tf.cast(tf.linalg.matvec(negatives - midpoint, direction) <= 0,
                                   tf.int32))
    return float(right) / total


def fit_direction(classifier, positives, negatives, positive_test, negative_test, seed):
    """The unit-L1 CAV `(D,)` and held-out accuracy from flattened activations.

    Parameters
    ----------
    classifier
        "SGD", "SVC", "mean" or an object with `fit`, `score` and `coef_`.
    positives, negatives
        Activations `(n+, D)` and `(n-, D)`.
    positive_test, negative_test
        Boolean masks of the held-out rows of each set.
    seed
        Seed of the classifier's randomness.
    """
    positives = np.asarray(positives, np.float32)
    negatives = np.asarray(negatives, np.float32)
    for values, test, name in ((positives, positive_test, "positive_dataset"),
                               (negatives, negative_test, "negative_dataset")):
        if (~test).sum() == 0:
            raise ValueError(
                f"`{name}` must leave at least one training example after the held-out "
                f"split. Received {len(values)} example(s)"
            )
    train_x = np.concatenate([positives[~positive_test], negatives[~negative_test]])
    train_y = np.concatenate([np.ones((~positive_test).sum()), np.zeros((~negative_test).sum())])
    test_x = np.concatenate([positives[positive_test], negatives[negative_test]])
    test_y = np.concatenate([np.ones(positive_test.sum()), np.zeros(negative_test.sum())])
    if classifier == "mean":
        difference = positives[~positive_test].mean(0) - negatives[~negative_test].mean(0)
        midpoint = (positives[~positive_test].mean(0) + negatives[~negative_test].mean(0)) / 2
        accuracy = None
        if len(test_y):
            accuracy = float((((test_x - midpoint) @ difference > 0) == (test_y == 1)).mean())
        return _unit_l1(difference.astype(np.float64)), accuracy
    model = _classifier_for(classifier, seed)
    model.fit(train_x, train_y)
    coef = getattr(model, "coef_", None)
    if coef is None:
        raise ValueError(
            "`classifier` must expose `coef_` (the weights of a linear boundary) once fitted. "
            f"Received: {type(model).__name__} without coef_"
        )
    accuracy = float(model.score(test_x, test_y)) if len(test_y) else None
    return _unit_l1(np.asarray(coef, np.float64).reshape(-1)), accuracy

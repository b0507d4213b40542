"""Stability: how much an explanation changes when its input barely changes."""

from typing import Callable

import numpy as np
import tensorflow as tf

from xplique.commons.batching import pairs_in, reduce_over_samples
from xplique.commons.data import to_tensor
from xplique.commons.random import pair_uniform
from xplique.commons.statistics import Mean
from xplique.commons.validation import ensure_float, ensure_positive_int, ensure_seed
from xplique.metrics.base import ExplainerMetric, counted, explain_with, progress_bar


def _l1(first, second):
    return tf.reduce_sum(tf.abs(first - second), axis=-1)


def _l2(first, second):
    return tf.norm(first - second, axis=-1)


_DISTANCES = {"l1": _l1, "l2": _l2}


def _ensure_distance(distance) -> Callable:
    if isinstance(distance, str) and distance in _DISTANCES:
        return _DISTANCES[distance]
    if callable(distance):
        return distance
    raise ValueError(
        "`distance` must be 'l1', 'l2' or a callable d(phi_a, phi_b) -> scalar on the "
        f"explanations of two inputs. Received: distance={distance!r}"
    )


def _pairwise(distance: Callable, neighbours: tf.Tensor, base: tf.Tensor) -> tf.Tensor:
    """A user distance called once per (neighbour, base) pair of explanations, as in Xplique:
    `distance(phi_neighbour, phi_base)` on numpy arrays of one explanation's shape."""
    neighbours, base = neighbours.numpy(), base.numpy()
    values = [float(np.mean(np.asarray(distance(a, b), dtype=np.float64)))
              for a, b in zip(neighbours, base)]
    return tf.constant(values, tf.float64)


class AverageStability(ExplainerMetric):
    """Average stability: the mean distance between the explanation of an input and the
    explanations of random neighbours of that input.

    `S(x) = E_{u ~ U[-r, r]^d} [ d(phi(x), phi(x + u)) ]`, estimated with `nb_samples`
    neighbours per input and averaged over the inputs. **Lower is better** (0 for an
    explanation that does not move within the radius).

    Ref. Yeh et al., On the (In)fidelity and Sensitivity of Explanations (2019),
    https://arxiv.org/abs/1901.09392 (the average of their max-sensitivity's neighbourhood).

    Parameters
    ----------
    radius
        Half-width of the uniform noise added to each input feature.
    distance
        "l1", "l2" (computed for a whole chunk at once), or a callable
        `d(phi_a, phi_b) -> scalar` called on each pair (neighbour's explanation, input's
        explanation), as in Xplique; a non-scalar result is averaged.
    nb_samples
        Neighbours per input.
    seed
        Keyword-only. Drawn once per metric, so every explainer evaluated by one metric sees
        the same neighbours; the neighbours do not depend on `batch_size`.
    verbose
        Keyword-only. Show a progress bar over the neighbours.

    Notes
    -----
    `batch_size` is the number of neighbours handed to the explainer per call (the explainer
    batches its own model passes). Explanations of any float dtype (e.g. float64 numpy arrays)
    are accepted and compared in float32. The noise is drawn in `[-radius, radius]` as in the
    paper's neighbourhood; Xplique draws it in `[0, radius]`.
    """

    def __init__(self, model, inputs, targets=None, batch_size=64, radius=0.1, distance="l2",
                 nb_samples=20, *, seed=None, verbose=False, strategy=None):
        self._setup(model, inputs, targets, batch_size, strategy=strategy)
        self.radius = ensure_float(radius, "radius", minimum=0.0)
        self.distance = _ensure_distance(distance)
        self._vectorised = isinstance(distance, str)
        self.nb_samples = ensure_positive_int(nb_samples, "nb_samples")
        self.seed = ensure_seed(seed)
        self.verbose = bool(verbose)

    def evaluate(self, explainer, base_explanations=None) -> float:
        """Mean distance to the neighbours' explanations.

        Parameters
        ----------
        explainer
            An object with `explain(inputs, targets) -> explanations`, or such a callable.
        base_explanations
            The explanations of `inputs` if already computed (else computed here).
        """
        if base_explanations is None:
            base_explanations = explain_with(explainer, self.inputs, self.targets)
        base_explanations = to_tensor(base_explanations, "base_explanations")  # float32
        if base_explanations.shape[0] != self.inputs.shape[0]:
            raise ValueError(
                f"`base_explanations` must hold one explanation per input ({self.inputs.shape[0]})."
                f" Received: base_explanations.shape={tuple(base_explanations.shape)}"
            )
        nb_samples, radius, distance = self.nb_samples, self.radius, self.distance
        vectorised = self._vectorised

        def kernel(inputs, targets, base, start, stop, offset, seed):
            pairs = pairs_in(start, stop, nb_samples)
            noise = pair_uniform(seed, offset, tf.shape(pairs.owner)[0], inputs.shape[1:])
            neighbours = tf.gather(inputs, pairs.owner) + radius * (2.0 * noise - 1.0)
            explanations = to_tensor(explain_with(explainer, neighbours,
                                                  tf.gather(targets, pairs.owner)),
                                     "explanations")
            if vectorised:
                values = distance(_flat(explanations), _flat(tf.gather(base, pairs.owner)))
            else:
                values = _pairwise(distance, explanations, tf.gather(base, pairs.owner))
            return Mean().partial(tf.cast(values, tf.float64), pairs.segment, pairs.num_segments)

        total = int(self.inputs.shape[0]) * nb_samples
        with progress_bar(total, self.verbose, "AverageStability") as bar:
            per_input = reduce_over_samples(
                counted(kernel, bar, 3), [self.inputs, self.targets, base_explanations],
                nb_samples, self.batch_size, Mean(),
                extras=(tf.constant(self.seed, tf.int64),),
            )
        return float(np.mean(per_input.numpy()))


def _flat(explanations) -> tf.Tensor:
    explanations = tf.convert_to_tensor(explanations)
    return tf.reshape(explanations, [tf.shape(explanations)[0], -1])

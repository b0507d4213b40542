"""Holistic CRAFT's reductions of per-concept explanations `(N, ..., R)`: importance,
prevalence and reliability of each concept.

Ref. Fel et al., A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation (2023), https://arxiv.org/abs/2306.07304
"""

import numpy as np

from xplique.commons.validation import ensure_choice

#: Reducers by name (None skips the reduction).
REDUCERS = {"mean": np.mean, "max": np.max, "min": np.min, "sum": np.sum, "median": np.median,
            None: None}


def _explanation(explanation, name: str = "explanation") -> np.ndarray:
    if hasattr(explanation, "numpy"):
        explanation = explanation.numpy()
    values = np.asarray(explanation, np.float64)
    if values.ndim < 2:
        raise ValueError(
            f"`{name}` must be per-concept explanations (N, ..., n_concepts). Received an "
            f"array of shape {values.shape}"
        )
    return values


def reduce_to_importance(explanation, spatial_reducer="max", abs_before_reduce=True,
                         aggregation_reducer="mean") -> np.ndarray:
    """Concept importances from per-concept explanations `(N, ..., R)`.

    The positions of each image are reduced by `spatial_reducer` (after an absolute value
    when `abs_before_reduce`), giving `(N, R)`, then the images by `aggregation_reducer`,
    giving `(R,)`. Reducers are "mean", "max", "min", "sum", "median", or None to skip that
    step (None as `aggregation_reducer` returns the per-image scores `(N, R)`).
    """
    ensure_choice(spatial_reducer, "spatial_reducer", REDUCERS)
    ensure_choice(aggregation_reducer, "aggregation_reducer", REDUCERS)
    values = _explanation(explanation)
    if abs_before_reduce:
        values = np.abs(values)
    if spatial_reducer is not None and values.ndim > 2:
        values = values.reshape(values.shape[0], -1, values.shape[-1])
        values = REDUCERS[spatial_reducer](values, axis=1)
    if aggregation_reducer is not None:
        values = REDUCERS[aggregation_reducer](values, axis=0)
    return values


def dominant_concepts(explanation) -> np.ndarray:
    """The most important concept of each image `(N,)`: argmax over concepts of the per-image
    importance `max over positions of |explanation|` (:func:`reduce_to_importance` with its
    default spatial reduction and no aggregation)."""
    per_image = reduce_to_importance(explanation, "max", True, None)
    return np.argmax(per_image.reshape(len(per_image), -1), axis=-1)


def reduce_to_prevalence(explanation) -> np.ndarray:
    """Fraction of the images whose most important concept is each concept `(R,)` (sums to 1):
    `prevalence_k = #{i : dominant(i) = k} / N`, with :func:`dominant_concepts`."""
    values = _explanation(explanation)
    dominant = dominant_concepts(values)
    return np.bincount(dominant, minlength=values.shape[-1]) / float(len(dominant))


def reduce_to_reliability(explanation, accuracy) -> np.ndarray:
    """Mean accuracy of the images each concept dominates `(R,)` (0 for a concept that
    dominates none): `reliability_k = mean{accuracy_i : dominant(i) = k}`.

    `accuracy` holds one score per image `(N,)`: 0/1 correctness for a classifier, or any
    scalar correctness (IoU, AP...) for a detector."""
    values = _explanation(explanation)
    accuracy = np.asarray(accuracy, np.float64).reshape(-1)
    if len(accuracy) != len(values):
        raise ValueError(
            f"`accuracy` must hold one value per image ({len(values)}). Received "
            f"{len(accuracy)} values"
        )
    dominant = dominant_concepts(values)
    counts = np.bincount(dominant, minlength=values.shape[-1])
    totals = np.bincount(dominant, weights=accuracy, minlength=values.shape[-1])
    return np.divide(totals, counts, out=np.zeros(values.shape[-1]), where=counts > 0)

"""Holistic CRAFT's concept localization: how the concept localizer
(:class:`~.concept_models.ConceptLocalizer`, images to one score per concept) is set up from a
fitted factorizer, and the input-space maps of concepts that a black-box explainer draws from
it, one map per (image, concept) pair."""

from typing import Callable, List, Union

import numpy as np
import tensorflow as tf

from xplique.commons.validation import ensure_choice
from xplique.concepts.craft.concept_models import LOCALIZER_REDUCERS
from xplique.concepts.craft.holistic_importance import require_partial_explainer


def localizer_reducer(concept_reducer: Union[str, Callable]) -> Callable:
    """The reduction of the concept maps over positions: one of :data:`LOCALIZER_REDUCERS`
    by name ("mean", "sum", "max"), or a callable of the `(n, ..., R)` maps."""
    if isinstance(concept_reducer, str):
        return LOCALIZER_REDUCERS[ensure_choice(concept_reducer, "concept_reducer",
                                                LOCALIZER_REDUCERS)]
    if callable(concept_reducer):
        return concept_reducer
    raise ValueError(
        "`concept_reducer` must be 'mean', 'sum', 'max' or a callable. Received: "
        f"concept_reducer={concept_reducer!r}"
    )


def ridge_penalty(factorizer, concept_bank_w: np.ndarray) -> float:
    """The ridge penalty of the factorizer's transform problem, read from its `alpha_W` and
    `l1_ratio` (0 when it has none), scaled by the latent size as scikit-learn's NMF does."""
    alpha = float(getattr(factorizer, "alpha_W", 0.0) or 0.0)
    l1_ratio = float(getattr(factorizer, "l1_ratio", 0.0) or 0.0)
    return alpha * (1.0 - l1_ratio) * concept_bank_w.shape[1]


def concept_indices(concept_ids, number_of_concepts: int, name: str = "concept_ids") -> List[int]:
    """`concept_ids` as a list of unique indices in `[0, number_of_concepts)` (None: all)."""
    if concept_ids is None:
        return list(range(number_of_concepts))
    ids = [int(i) for i in np.asarray(concept_ids).reshape(-1)]
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0 or (
            max(ids) >= number_of_concepts):
        raise ValueError(
            f"`{name}` must be unique concept indices in [0, {number_of_concepts - 1}]"
            f". Received: {name}={list(concept_ids)!r}"
        )
    return ids


def require_black_box(partial_explainer):
    """`partial_explainer` itself, or an error unless it builds a black-box explainer and sets
    no `operator` (one-hot concept targets select the concept scores)."""
    # pylint: disable=import-outside-toplevel
    from xplique.attributions.base import WhiteBoxExplainer

    require_partial_explainer(partial_explainer)
    explainer_class = partial_explainer.explainer_class
    if isinstance(explainer_class, type) and issubclass(explainer_class,
                                                        WhiteBoxExplainer):
        raise ValueError(
            "`partial_explainer` must build a black-box explainer (Occlusion, RISE, "
            f"Sobol, Lime, KernelShap, HSIC...). Received: {explainer_class.__name__}"
        )
    if partial_explainer.kwargs.get("operator") is not None:
        raise ValueError(
            "`partial_explainer` must not set `operator`: one-hot concept targets select "
            f"the concept scores. Received: operator={partial_explainer.kwargs['operator']!r}"
        )
    return partial_explainer


def concept_input_maps(explainer, images: tf.Tensor, ids: List[int],
                       number_of_concepts: int) -> np.ndarray:
    """Maps `(N, H, W, R)` (float32) of the channels-last `images`: `explainer` (of the concept
    localizer) attributes the score of each concept of `ids` to the pixels, in one call over
    every (image, concept) pair; channels of the other concepts are NaN."""
    count = int(images.shape[0])
    repeated = tf.repeat(images, len(ids), axis=0)  # image-major (image, concept) pairs
    targets = np.eye(number_of_concepts, dtype=np.float32)[np.tile(ids, count)]
    maps = explainer(repeated, targets)
    maps = np.asarray(maps.numpy() if hasattr(maps, "numpy") else maps, np.float32)
    if maps.ndim == 4 and maps.shape[-1] == 1:
        maps = maps[..., 0]
    if maps.shape != (count * len(ids),) + tuple(images.shape[1:3]):
        raise ValueError(
            "The explainer must return one (H, W) map per image. Received maps of shape "
            f"{maps.shape} for {count * len(ids)} images of size {tuple(images.shape[1:3])}"
        )
    result = np.full((count,) + maps.shape[1:] + (number_of_concepts,), np.nan, np.float32)
    result[..., ids] = np.moveaxis(maps.reshape((count, len(ids)) + maps.shape[1:]), 1, -1)
    return result

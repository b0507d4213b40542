"""Holistic CRAFT's concept importance: what an attribution method explains when it is run on
the concept decoder `u -> h(u W)`.

The task is read from the decoder's outputs (:func:`~.holistic_records.is_detector`): a
classifier's targets are one-hot classes, a detector's are its predicted boxes kept by class
and objectness (images with fewer kept boxes are padded with zero rows, which the detection
operators ignore), and its operator defaults to `Tasks.OBJECT_DETECTION`.

:func:`named_explainer` builds the explainers that
:meth:`~.holistic.HolisticCraft.estimate_importance` names; the reductions of the per-concept
explanations (importance, prevalence, reliability) are in :mod:`~.holistic_reducers`.
"""

from typing import Optional

import numpy as np
import tensorflow as tf

from xplique.commons.operators import Tasks
from xplique.commons.prediction_types import kept_boxes
from xplique.commons.validation import ensure_choice
from xplique.concepts.craft.holistic_records import is_detector
from xplique.concepts.craft.latent_extractor import PartialExplainer

#: The attribution methods :func:`named_explainer` builds by name.
IMPORTANCE_METHODS = ("gradient_input", "sobol")


def require_partial_explainer(partial_explainer) -> PartialExplainer:
    """`partial_explainer` itself, or a TypeError unless it is a :class:`PartialExplainer`."""
    if not isinstance(partial_explainer, PartialExplainer):
        raise TypeError(
            "`partial_explainer` must be a PartialExplainer. Received: "
            f"{type(partial_explainer).__name__}"
        )
    return partial_explainer


def explained_targets(outputs: tf.Tensor, class_id: Optional[int], confidence: Optional[float],
                      fitted_class_id: int, verbose: bool = False) -> np.ndarray:
    """The targets of the decoder's `outputs`: for a detector its predicted boxes kept by
    `class_id` and `confidence` (None: no filter), for a classifier the one-hot class
    `class_id` (None: `fitted_class_id`), one row per input."""
    count = int(outputs.shape[0])
    if is_detector(outputs):
        targets = kept_boxes(outputs, class_id, confidence).numpy()
        if verbose:
            kept = np.any(targets != 0.0, axis=-1).sum(axis=1)
            print(f"HolisticCraft: {int(kept.sum())} boxes kept over {count} images"
                  f" (per image: {kept.tolist()})")
        return targets
    class_id = fitted_class_id if class_id is None else class_id
    if class_id >= outputs.shape[-1]:
        raise ValueError(
            f"`class_id` must be below the number of outputs {outputs.shape[-1]}. "
            f"Received: class_id={class_id}"
        )
    return np.eye(outputs.shape[-1], dtype=np.float32)[np.full(count, class_id)]


def task_explainer(partial_explainer: PartialExplainer, outputs: tf.Tensor) -> PartialExplainer:
    """`partial_explainer`, with `operator=Tasks.OBJECT_DETECTION` when the decoder's `outputs`
    are boxes and it sets no operator."""
    if is_detector(outputs) and partial_explainer.kwargs.get("operator") is None:
        return PartialExplainer(partial_explainer.explainer_class,
                                **dict(partial_explainer.kwargs,
                                       operator=Tasks.OBJECT_DETECTION))
    return partial_explainer


def named_explainer(method: str, number_of_concepts: int, operator=None,
                         method_kwargs: Optional[dict] = None) -> PartialExplainer:
    """The explainer of `method`: "gradient_input" (`GradientInput(reducer=None)`) or "sobol"
    (`SobolAttributionMethod(grid_size=8, nb_design=32, perturbation_function="amplitude",
    nb_channels=number_of_concepts)`), with `operator`; `method_kwargs` override these
    settings."""
    # pylint: disable=import-outside-toplevel
    from xplique.attributions import GradientInput, SobolAttributionMethod

    ensure_choice(method, "method", IMPORTANCE_METHODS)
    if method == "gradient_input":
        explainer_class, settings = GradientInput, dict(reducer=None, operator=operator)
    else:
        explainer_class = SobolAttributionMethod
        settings = dict(grid_size=8, nb_design=32, perturbation_function="amplitude",
                        nb_channels=number_of_concepts, operator=operator)
    settings.update(method_kwargs or {})
    return PartialExplainer(explainer_class, **settings)

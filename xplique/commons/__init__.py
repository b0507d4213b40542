"""The shared engine: data normalisation, operators, batching, compiled kernels, surgery."""

from xplique.commons.batching import batched, chunk_ranges, reduce_over_samples
from xplique.commons.compiled import Compiled
from xplique.commons.data import iter_groups, prepare_targets
from xplique.commons.forgrad import forgrad  # the function shadows its module's name
from xplique.commons.gradients import gradient_of, predictions_of
from xplique.commons.model_surgery import find_layer, truncate_at
from xplique.commons.operators import Tasks, get_operator, predictions_operator
from xplique.commons.perturbation import perturbed_scores_of, reduce_perturbed
from xplique.commons.shapes import Modality, modality, reduce_channels

__all__ = [
    "batched",
    "chunk_ranges",
    "reduce_over_samples",
    "Compiled",
    "iter_groups",
    "prepare_targets",
    "forgrad",
    "gradient_of",
    "predictions_of",
    "find_layer",
    "truncate_at",
    "Tasks",
    "get_operator",
    "predictions_operator",
    "perturbed_scores_of",
    "reduce_perturbed",
    "Modality",
    "modality",
    "reduce_channels",
]

"""The shared engine: data normalisation, operators, batching, compiled kernels, surgery."""

from xplique.commons.batching import batched, chunk_ranges, reduce_over_samples
from xplique.commons.compiled import Compiled
from xplique.commons.data import iter_groups, prepare_targets
from xplique.commons.gradients import gradient_of, predictions_of
from xplique.commons.model_surgery import find_layer, truncate_at
from xplique.commons.operators import Tasks, get_operator, predictions_operator
from xplique.commons.shapes import Modality, modality, reduce_channels

__all__ = [
    "batched",
    "chunk_ranges",
    "reduce_over_samples",
    "Compiled",
    "iter_groups",
    "prepare_targets",
    "gradient_of",
    "predictions_of",
    "find_layer",
    "truncate_at",
    "Tasks",
    "get_operator",
    "predictions_operator",
    "Modality",
    "modality",
    "reduce_channels",
]

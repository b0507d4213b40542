"""CRAFT: concept extraction by non-negative factorization, and concept importance by Sobol
indices, for Keras (`CraftTf`) and PyTorch (`CraftTorch`, torch imported lazily) models;
Holistic CRAFT (`HolisticCraftTf`, `HolisticCraftTorch`) on whole images, for classifiers and
object detectors."""

from xplique.commons.prediction_types import (
    StructuredPrediction,
    TfClassifierTensor,
    TfMultiBoxTensor,
)
from xplique.concepts.craft.base import (
    BaseCraft,
    DisplayImportancesOrder,
    Factorization,
    Sensitivity,
)
from xplique.concepts.craft.holistic import HolisticCraft, HolisticCraftTf
from xplique.concepts.craft.holistic_reducers import (
    reduce_to_importance,
    reduce_to_prevalence,
    reduce_to_reliability,
)
from xplique.concepts.craft.holistic_torch import HolisticCraftTorch, TorchLatentExtractor
from xplique.concepts.craft.latent_data import EncodedData, LatentData, LayeredLatentData
from xplique.concepts.craft.latent_extractor import (
    LatentExtractor,
    LayeredModelExtractorBuilder,
    PartialExplainer,
)
from xplique.concepts.craft.manager import BaseCraftManager, CraftManagerTf, CraftManagerTorch
from xplique.concepts.craft.nmf import TfNMF
from xplique.concepts.craft.tf import CraftTf
from xplique.concepts.craft.torch import CraftTorch

__all__ = [
    "BaseCraft",
    "BaseCraftManager",
    "CraftTf",
    "CraftTorch",
    "CraftManagerTf",
    "CraftManagerTorch",
    "DisplayImportancesOrder",
    "Factorization",
    "Sensitivity",
    "TfNMF",
    "HolisticCraft",
    "HolisticCraftTf",
    "HolisticCraftTorch",
    "LatentExtractor",
    "TorchLatentExtractor",
    "LayeredModelExtractorBuilder",
    "PartialExplainer",
    "EncodedData",
    "LatentData",
    "LayeredLatentData",
    "StructuredPrediction",
    "TfClassifierTensor",
    "TfMultiBoxTensor",
    "reduce_to_importance",
    "reduce_to_prevalence",
    "reduce_to_reliability",
]

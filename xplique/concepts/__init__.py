"""Concept-based explanations: CAV, TCAV (with its significance test), CRAFT and Holistic
CRAFT.

The torch variants of CRAFT and Holistic CRAFT import torch only when they are built.
"""

from xplique.concepts.cav import Cav
from xplique.concepts.craft import (
    CraftManagerTf,
    CraftManagerTorch,
    CraftTf,
    CraftTorch,
    DisplayImportancesOrder,
    EncodedData,
    Factorization,
    HolisticCraft,
    HolisticCraftTf,
    HolisticCraftTorch,
    LatentData,
    LatentExtractor,
    LayeredLatentData,
    LayeredModelExtractorBuilder,
    PartialExplainer,
    Sensitivity,
    StructuredPrediction,
    TfClassifierTensor,
    TfMultiBoxTensor,
    TorchLatentExtractor,
)
from xplique.concepts.tcav import Tcav, TcavSignificance

__all__ = [
    "Cav",
    "Tcav",
    "TcavSignificance",
    "CraftTf",
    "CraftTorch",
    "CraftManagerTf",
    "CraftManagerTorch",
    "DisplayImportancesOrder",
    "Factorization",
    "Sensitivity",
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
]

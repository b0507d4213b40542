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
    Factorization,
    HolisticCraft,
    HolisticCraftTf,
    HolisticCraftTorch,
    LatentExtractor,
    LayeredModelExtractorBuilder,
    PartialExplainer,
    Sensitivity,
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
]

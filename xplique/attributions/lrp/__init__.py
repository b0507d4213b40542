"""Layer-wise Relevance Propagation: rules, composites, canonizers and the :class:`LRP`
explainer, on one relevance engine (:mod:`xplique.attributions.lrp.propagation`) that
:class:`~xplique.attributions.DeepLift` shares."""

from xplique.attributions.lrp.composites import (
    CONVOLUTIONS,
    DENSE,
    Composite,
    EpsilonAlpha2Beta1,
    EpsilonAlpha2Beta1Flat,
    EpsilonGammaBox,
    EpsilonPlus,
    EpsilonPlusFlat,
)
from xplique.attributions.lrp.lrp import LRP
from xplique.attributions.lrp.propagation import inspect_rules
from xplique.attributions.lrp.rules import (
    AlphaBetaRule,
    EpsilonRule,
    FlatRule,
    GammaRule,
    PassRule,
    Rule,
    WSquareRule,
    ZBoxRule,
    ZeroRule,
    ZPlusRule,
)

__all__ = [
    "LRP",
    "Rule",
    "ZeroRule",
    "EpsilonRule",
    "GammaRule",
    "WSquareRule",
    "FlatRule",
    "ZBoxRule",
    "ZPlusRule",
    "AlphaBetaRule",
    "PassRule",
    "Composite",
    "CONVOLUTIONS",
    "DENSE",
    "EpsilonGammaBox",
    "EpsilonPlus",
    "EpsilonAlpha2Beta1",
    "EpsilonPlusFlat",
    "EpsilonAlpha2Beta1Flat",
    "inspect_rules",
]

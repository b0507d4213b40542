"""Contract cases of the relevance-propagation methods: LRP (one rule, the default ZeroRule and
a composite) and DeepLift, on the contract's models (Dense, Conv1D and Conv2D with Flatten)."""

from tests.contract.registry import Case
from xplique.attributions import LRP, DeepLift
from xplique.attributions.lrp import EpsilonGammaBox, EpsilonRule


def LRPEpsilon(model, **common):  # noqa: N802
    """LRP with one rule on every layer."""
    return LRP(model, EpsilonRule(0.01), **common)


def LRPEpsilonGammaBox(model, **common):  # noqa: N802
    """LRP with the EpsilonGammaBox composite (ZBox on the first layer)."""
    return LRP(model, EpsilonGammaBox(0.0, 1.0), **common)


CASES = [
    Case(LRP),
    Case(LRPEpsilon),
    Case(LRPEpsilonGammaBox),
    Case(DeepLift, params=dict(baseline=0.5)),
]

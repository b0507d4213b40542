"""Contract cases of the gradient attributions."""

from tests.contract.registry import Case
from xplique.attributions import (
    GradientInput,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
    SquareGrad,
    VarGrad,
)

CASES = [
    Case(Saliency),
    Case(GradientInput),
    Case(IntegratedGradients, dict(steps=5)),
    Case(SmoothGrad, dict(nb_samples=4, noise=0.1), seeded=True),
    Case(SquareGrad, dict(nb_samples=4, noise=0.1), seeded=True),
    Case(VarGrad, dict(nb_samples=4, noise=0.1), seeded=True),
]

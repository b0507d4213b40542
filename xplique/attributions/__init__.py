"""Attribution methods: which input features drive a model's score.

Every method is used as `Method(model, **params)(inputs, targets)`; see docs/conventions.md.
"""

from xplique.attributions.base import BlackBoxExplainer, WhiteBoxExplainer
from xplique.attributions.gradient_input import GradientInput
from xplique.attributions.integrated_gradients import IntegratedGradients
from xplique.attributions.saliency import Saliency
from xplique.attributions.smoothed import SmoothGrad, SquareGrad, VarGrad

__all__ = [
    "BlackBoxExplainer",
    "WhiteBoxExplainer",
    "Saliency",
    "GradientInput",
    "IntegratedGradients",
    "SmoothGrad",
    "SquareGrad",
    "VarGrad",
]

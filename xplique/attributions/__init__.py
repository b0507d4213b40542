"""Attribution methods: which input features drive a model's score.

Every method is used as `Method(model, **params)(inputs, targets)`; see docs/conventions.md.
"""

from xplique.attributions.base import BlackBoxExplainer, WhiteBoxExplainer
from xplique.attributions.cam import CAM
from xplique.attributions.deconvnet import DeconvNet
from xplique.attributions.deep_lift import DeepLift
from xplique.attributions.fem import FEM
from xplique.attributions.full_gradient import FullGradient
from xplique.attributions.global_sensitivity_analysis import (
    HsicAttributionMethod,
    SobolAttributionMethod,
)
from xplique.attributions.grad_cam import GradCAM
from xplique.attributions.grad_cam_pp import GradCAMPP
from xplique.attributions.gradient_input import GradientInput
from xplique.attributions.guided_backprop import GuidedBackprop
from xplique.attributions.integrated_gradients import IntegratedGradients
from xplique.attributions.kernel_shap import KernelShap
from xplique.attributions.layer_cam import LayerCAM
from xplique.attributions.lime import Lime
from xplique.attributions.lrp import LRP
from xplique.attributions.meta import TTA, FORGrad
from xplique.attributions.occlusion import Occlusion
from xplique.attributions.rise import Rise
from xplique.attributions.saliency import Saliency
from xplique.attributions.score_cam import ScoreCAM
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
    "Occlusion",
    "Rise",
    "Lime",
    "KernelShap",
    "SobolAttributionMethod",
    "HsicAttributionMethod",
    "DeconvNet",
    "GuidedBackprop",
    "GradCAM",
    "GradCAMPP",
    "FEM",
    "CAM",
    "ScoreCAM",
    "LayerCAM",
    "FullGradient",
    "TTA",
    "FORGrad",
    "LRP",
    "DeepLift",
]

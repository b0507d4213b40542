"""Attributions from global sensitivity analysis: Sobol indices and HSIC of image regions,
with their samplers, estimators and perturbation functions."""

from xplique.attributions.global_sensitivity_analysis.hsic_attribution_method import (
    HsicAttributionMethod,
)
from xplique.attributions.global_sensitivity_analysis.hsic_estimators import (
    BinaryEstimator,
    HsicEstimator,
    RbfEstimator,
    SobolevEstimator,
)
from xplique.attributions.global_sensitivity_analysis.perturbations import (
    PerturbationFunction,
    amplitude,
    blurring,
    inpainting,
)
from xplique.attributions.global_sensitivity_analysis.samplers import (
    HaltonSequence,
    HaltonSequenceRS,
    LatinHypercube,
    LatinHypercubeRS,
    Sampler,
    ScipySobolSequence,
    ScipySobolSequenceRS,
    TFSobolSequence,
    TFSobolSequenceRS,
    replicated_design,
)
from xplique.attributions.global_sensitivity_analysis.sobol_attribution_method import (
    SobolAttributionMethod,
)
from xplique.attributions.global_sensitivity_analysis.sobol_estimators import (
    GlenEstimator,
    HommaEstimator,
    JanonEstimator,
    JansenEstimator,
    SaltelliEstimator,
    SobolEstimator,
)

__all__ = [
    "SobolAttributionMethod",
    "HsicAttributionMethod",
    "Sampler",
    "TFSobolSequence",
    "TFSobolSequenceRS",
    "ScipySobolSequence",
    "ScipySobolSequenceRS",
    "HaltonSequence",
    "HaltonSequenceRS",
    "LatinHypercube",
    "LatinHypercubeRS",
    "replicated_design",
    "SobolEstimator",
    "JansenEstimator",
    "HommaEstimator",
    "JanonEstimator",
    "GlenEstimator",
    "SaltelliEstimator",
    "HsicEstimator",
    "BinaryEstimator",
    "RbfEstimator",
    "SobolevEstimator",
    "PerturbationFunction",
    "inpainting",
    "blurring",
    "amplitude",
]

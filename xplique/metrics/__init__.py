"""Metrics: how faithful, stable, simple and sane explanations are.

Metrics are configured in their constructor and called on explanations
(`Deletion(model, inputs, targets)(explanations)`) or on an explainer
(`AverageStability(model, inputs, targets)(explainer)`); see docs/metrics/.
"""

from xplique.metrics.average import AverageDropMetric, AverageGainMetric, AverageIncreaseMetric
from xplique.metrics.base import (
    BaseAttributionMetric,
    BaseComplexityMetric,
    ExplainerMetric,
    ExplanationMetric,
)
from xplique.metrics.complexity import Complexity, Sparseness
from xplique.metrics.fidelity import Deletion, Insertion, MuFidelity
from xplique.metrics.localization import PointingGame, RelevanceMass
from xplique.metrics.randomization import (
    ModelRandomizationMetric,
    ModelRandomizationStrategy,
    ProgressiveLayerRandomization,
    RandomLogitMetric,
)
from xplique.metrics.representativity import MeGe
from xplique.metrics.road import ROAD
from xplique.metrics.stability import AverageStability

__all__ = [
    "BaseAttributionMetric",
    "ExplanationMetric",
    "ExplainerMetric",
    "BaseComplexityMetric",
    "MuFidelity",
    "Deletion",
    "Insertion",
    "AverageDropMetric",
    "AverageIncreaseMetric",
    "AverageGainMetric",
    "ROAD",
    "AverageStability",
    "MeGe",
    "Complexity",
    "Sparseness",
    "RandomLogitMetric",
    "ModelRandomizationMetric",
    "ModelRandomizationStrategy",
    "ProgressiveLayerRandomization",
    "PointingGame",
    "RelevanceMass",
]

"""Example-based explanations: similar cases, counterfactuals, semi-factuals, prototypes.

Every method searches its projected cases with one batched k-nearest-neighbour engine
(:mod:`xplique.example_based.search`); cases are streamed from arrays, tensors, tf.data
datasets or torch loaders (:mod:`xplique.example_based.datasets`).
"""

from xplique.example_based.base import BaseExampleMethod
from xplique.example_based.cole import Cole
from xplique.example_based.counterfactuals import LabelAwareCounterFactuals, NaiveCounterFactuals
from xplique.example_based.mmd_critic import MMDCritic
from xplique.example_based.proto_dash import ProtoDash
from xplique.example_based.proto_greedy import ProtoGreedy
from xplique.example_based.prototypes import Prototypes
from xplique.example_based.semifactuals import KLEORGlobalSim, KLEORSimMiss
from xplique.example_based.similar_examples import SimilarExamples

__all__ = [
    "BaseExampleMethod",
    "SimilarExamples",
    "NaiveCounterFactuals",
    "LabelAwareCounterFactuals",
    "KLEORSimMiss",
    "KLEORGlobalSim",
    "Cole",
    "Prototypes",
    "ProtoGreedy",
    "ProtoDash",
    "MMDCritic",
]

"""The registry of every attribution method under contract.

One :class:`Case` per method: the class, small constructor parameters, and which modalities it
supports. Each family of methods keeps its cases in its own module (registry_<family>.py) and
is listed in ``CASES`` below.
"""

import dataclasses
from typing import Callable, Optional, Tuple

import pytest


@dataclasses.dataclass(frozen=True)
class Case:
    """A method under contract.

    Attributes
    ----------
    cls
        The explainer class.
    params
        Constructor keyword arguments (small sample counts, so tests stay fast).
    modalities
        Modalities the method supports ("tabular", "time_series", "images").
    seeded
        Whether the constructor takes the keyword-only `seed`.
    output_layer
        Whether the constructor takes `output_layer`.
    operator
        Whether the constructor takes `operator`.
    model
        Factory `model(modality) -> model` when the method needs another architecture than
        `tests.conftest.make_model` gives (e.g. a global-average-pooling head for CAM).
    """

    cls: type
    params: dict = dataclasses.field(default_factory=dict)
    modalities: Tuple[str, ...] = ("tabular", "time_series", "images")
    seeded: bool = False
    output_layer: bool = True
    operator: bool = True
    model: Optional[Callable] = None


def as_params(cases):
    """`pytest.param`s with one id per method."""
    return [pytest.param(case, id=case.cls.__name__) for case in cases]


from tests.contract.registry_blackbox import CASES as BLACKBOX_CASES  # noqa: E402
from tests.contract.registry_gradients import CASES as GRADIENT_CASES  # noqa: E402
from tests.contract.registry_lrp import CASES as LRP_CASES  # noqa: E402
from tests.contract.registry_whitebox import CASES as WHITEBOX_CASES  # noqa: E402

CASES = [*GRADIENT_CASES, *WHITEBOX_CASES, *BLACKBOX_CASES, *LRP_CASES]

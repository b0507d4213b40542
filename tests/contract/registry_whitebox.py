"""Contract cases of the white-box attributions: ReLU policies, the CAM family, FullGrad and
the meta-explainers (TTA and FORGrad wrapping Saliency)."""

import functools

from tests.conftest import make_model
from tests.contract.registry import Case
from xplique.attributions import (
    CAM,
    FEM,
    TTA,
    DeconvNet,
    FORGrad,
    FullGradient,
    GradCAM,
    GradCAMPP,
    GuidedBackprop,
    LayerCAM,
    Saliency,
    ScoreCAM,
)

IMAGES = ("images",)


def TTASaliency(model, scales=(1.0, 1.3, 0.7), flips=True, **common):  # noqa: N802
    """TTA over Saliency (zoom in, zoom out, flips) on the contract's fixed-size model."""
    return TTA(Saliency(model, **common), scales=scales, flips=flips)


def FORGradSaliency(model, sigma=2, **common):  # noqa: N802
    """FORGrad over Saliency."""
    return FORGrad(Saliency(model, **common), sigma=sigma)


CASES = [
    Case(DeconvNet),
    Case(GuidedBackprop),
    Case(GradCAM, modalities=IMAGES),
    Case(GradCAMPP, modalities=IMAGES),
    Case(LayerCAM, modalities=IMAGES),
    Case(ScoreCAM, modalities=IMAGES),
    Case(FEM, modalities=IMAGES, output_layer=False, operator=False),
    Case(CAM, modalities=IMAGES, output_layer=False, operator=False,
         model=functools.partial(make_model, gap=True)),
    Case(FullGradient, modalities=IMAGES),
    Case(TTASaliency, modalities=IMAGES),
    Case(FORGradSaliency, modalities=IMAGES),
]

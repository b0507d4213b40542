"""Contract cases of the black-box (perturbation) attributions."""

from tests.contract.registry import Case
from xplique.attributions import (
    HsicAttributionMethod,
    KernelShap,
    Lime,
    Occlusion,
    Rise,
    SobolAttributionMethod,
)

CASES = [
    Case(Occlusion, dict(patch_size=2, patch_stride=2), output_layer=False),
    Case(Rise, dict(nb_samples=8, grid_size=3), seeded=True, output_layer=False),
    Case(Lime, dict(nb_samples=12), seeded=True, output_layer=False),
    Case(KernelShap, dict(nb_samples=12), seeded=True, output_layer=False),
    Case(SobolAttributionMethod, dict(grid_size=2, nb_design=4), modalities=("images",),
         output_layer=False),
    Case(HsicAttributionMethod, dict(grid_size=2, nb_design=8), modalities=("images",),
         output_layer=False),
]

"""Feature visualization: images that maximise neurons, channels, layers or directions.

:class:`Objective` says what to maximise, :func:`optimize` optimises images (pixel or Fourier
parameterisation, transformation robustness, regularizers; Olah et al., 2017) and :func:`maco`
optimises the phase of an image of fixed natural magnitude spectrum (Fel et al., 2023).
"""

from xplique.features_visualizations.maco import maco
from xplique.features_visualizations.objectives import Objective, cosine_similarity
from xplique.features_visualizations.optim import optimize
from xplique.features_visualizations.preconditioning import (
    fft_image,
    fft_to_rgb,
    get_fft_scale,
    init_maco_buffer,
    maco_image_parametrization,
)
from xplique.features_visualizations.regularizers import (
    l1_reg,
    l2_reg,
    l_inf_reg,
    total_variation_reg,
)
from xplique.features_visualizations.transformations import (
    compose_transformations,
    pad,
    random_blur,
    random_flip,
    random_jitter,
    random_scale,
)

__all__ = [
    "Objective",
    "optimize",
    "maco",
    "l1_reg",
    "l2_reg",
    "l_inf_reg",
    "total_variation_reg",
    "fft_image",
    "fft_to_rgb",
    "get_fft_scale",
    "init_maco_buffer",
    "maco_image_parametrization",
    "cosine_similarity",
    "pad",
    "random_blur",
    "random_flip",
    "random_jitter",
    "random_scale",
    "compose_transformations",
]

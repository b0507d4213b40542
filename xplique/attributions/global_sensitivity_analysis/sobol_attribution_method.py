"""Sobol attribution method: total Sobol indices of the regions of an image."""

from xplique.attributions.base import BlackBoxExplainer
from xplique.attributions.global_sensitivity_analysis.perturbations import (
    design_estimator,
    design_kernel,
    explain_with_design,
)
from xplique.attributions.global_sensitivity_analysis.samplers import Sampler, TFSobolSequenceRS
from xplique.attributions.global_sensitivity_analysis.sobol_estimators import (
    JansenEstimator,
    SobolEstimator,
)
from xplique.commons.model_adapters import black_box_model
from xplique.commons.validation import ensure_callable, ensure_positive_int


class SobolAttributionMethod(BlackBoxExplainer):
    """Sobol attribution: the total Sobol index of each cell of a `grid_size x grid_size` grid
    over the image, i.e. the share of the score's variance, under random masks, that involves
    that cell (alone or interacting with others).

    Masks in [0, 1]^(g x g x nb_channels) come from a quasi-Monte Carlo replicated design
    (`nb_design * (g^2 * nb_channels + 2)` masks), are upsampled to the image (nearest
    neighbour) and applied by `perturbation_function`; an estimator turns each image's scores
    into total indices, upsampled (bicubic) to `(N, H, W, nb_channels)`.

    Ref. Fel et al., Look at the Variance! Efficient Black-box Explanations with Sobol-based
    Sensitivity Analysis (2021), https://arxiv.org/abs/2111.04138

    Parameters
    ----------
    grid_size
        Cells per side of the grid of masks.
    nb_design
        Points of the base design (a power of 2 for Sobol sequences).
    sampler
        A replicated sampler from :mod:`.samplers` (default `TFSobolSequenceRS()`).
    estimator
        A :class:`.SobolEstimator` (default `JansenEstimator()`), or any callable written the
        Xplique way: called per image as `estimator(masks, outputs, nb_design)` with `outputs`
        the image's `(M,)` scores, returning one value per cell of `masks.shape[1:]`.
    perturbation_function
        "inpainting" (`x M`), "blurring" (`x M + (1 - M) blur(x)`), "amplitude"
        (`x + (M - 0.5)`), a :class:`.PerturbationFunction` or a callable `f(inputs, masks)`.
    nb_channels
        Keyword-only. 1 (one mask for all channels) or the number of image channels (a mask per
        channel, and a map per channel).

    Attributes
    ----------
    masks
        The design of masks `(nb_design * (g^2 c + 2), g, g, c)` in [0, 1], as in Xplique.

    Notes
    -----
    Images only (non-square sizes are fine). The design is drawn once, at construction; the
    masks of a batch are gathered from it and upsampled on the device. Scores are collected per
    image (`nb_design * (d + 2)` floats), never the masked images. The amplitude perturbation
    follows its documented intent `x + (M - 0.5) sigma` (Xplique multiplies instead).
    """

    def __init__(self, model, grid_size=8, nb_design=32, sampler=None, estimator=None,
                 perturbation_function="inpainting", batch_size=256, operator=None, *,
                 nb_channels=1, verbose=False, strategy=None):
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        self.grid_size = ensure_positive_int(grid_size, "grid_size")
        self.nb_design = ensure_positive_int(nb_design, "nb_design")
        self.nb_channels = ensure_positive_int(nb_channels, "nb_channels")
        self.sampler = TFSobolSequenceRS() if sampler is None else sampler
        self.estimator = JansenEstimator() if estimator is None else estimator
        if not isinstance(self.sampler, Sampler) or not self.sampler.replicated:
            raise TypeError(
                "`sampler` must be a replicated sampler (e.g. TFSobolSequenceRS(), "
                f"ScipySobolSequenceRS(), HaltonSequenceRS()). Received: {sampler!r}"
            )
        if not isinstance(self.estimator, SobolEstimator):
            ensure_callable(self.estimator, "estimator")
        if "Sobol" in type(self.sampler).__name__ and self.nb_design & (self.nb_design - 1):
            raise ValueError(
                "`nb_design` must be a power of 2 with a Sobol sequence. "
                f"Received: nb_design={nb_design}"
            )
        self.perturbation_function = perturbation_function
        self.verbose = bool(verbose)
        self._grid = (self.grid_size, self.grid_size, self.nb_channels)
        self.masks, self._design_scores = design_kernel(
            self._scored_model, self.operator, self.sampler, self.nb_design, self._grid,
            perturbation_function,
        )

    def _explain_group(self, inputs, targets, first_input):
        return explain_with_design(
            self._design_scores, inputs, targets, first_input, nb_masks=len(self.masks),
            grid=self._grid, batch_size=self.batch_size,
            estimate=design_estimator(self.estimator, self.masks, self.nb_design,
                                      isinstance(self.estimator, SobolEstimator)),
            verbose=self.verbose, description="SobolAttributionMethod",
        )

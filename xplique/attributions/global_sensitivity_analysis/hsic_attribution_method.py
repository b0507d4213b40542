"""HSIC attribution method: dependence between each region of an image and the score."""

from xplique.attributions.base import BlackBoxExplainer
from xplique.attributions.global_sensitivity_analysis.hsic_estimators import (
    BinaryEstimator,
    HsicEstimator,
)
from xplique.attributions.global_sensitivity_analysis.perturbations import (
    design_estimator,
    design_kernel,
    explain_with_design,
)
from xplique.attributions.global_sensitivity_analysis.samplers import Sampler, TFSobolSequence
from xplique.commons.model_adapters import black_box_model
from xplique.commons.validation import (
    ensure_callable,
    ensure_optional_positive_int,
    ensure_positive_int,
)


class HsicAttributionMethod(BlackBoxExplainer):
    """HSIC attribution: the Hilbert-Schmidt Independence Criterion between the mask value of
    each cell of a `grid_size x grid_size` grid and the score.

    `nb_design` masks (binary quasi-Monte Carlo points by default) are upsampled to the image
    (nearest neighbour) and applied by `perturbation_function`; the estimator measures, for
    each cell, how much the score depends on whether the cell is shown, and the map is
    upsampled (bicubic) to `(N, H, W, nb_channels)`.

    Ref. Novello et al., Making Sense of Dependence: Efficient Black-box Explanations Using
    Dependence Measure (2022), https://arxiv.org/abs/2206.06219

    Parameters
    ----------
    grid_size, perturbation_function, nb_channels
        As in :class:`~xplique.attributions.SobolAttributionMethod`.
    nb_design
        Masks per image.
    sampler
        A plain sampler from :mod:`.samplers` (default `TFSobolSequence(binary=True)`).
    estimator
        An :class:`.HsicEstimator` (default `BinaryEstimator(output_kernel="rbf")`), or any
        callable written the Xplique way: called per image as
        `estimator(masks, outputs, nb_design)` with `outputs` the image's `(nb_design,)` scores,
        returning one value per cell of `masks.shape[1:]`.
    estimator_batch_size
        Grid cells whose input kernels (`nb_design^2` values each) are held at once; None
        chooses as many as fit about 64 MB.

    Attributes
    ----------
    masks
        The design of masks `(nb_design, g, g, c)`, as in Xplique.

    Notes
    -----
    Images only (non-square sizes are fine). The output kernel is an RBF kernel whose width is
    the median pairwise distance between the scores (the median heuristic), floored at 1e-12,
    so a constant model gets HSIC 0 everywhere. Model evaluations: `nb_design` per image.
    """

    def __init__(self, model, grid_size=8, nb_design=500, sampler=None, estimator=None,
                 perturbation_function="inpainting", batch_size=256, estimator_batch_size=None,
                 operator=None, *, nb_channels=1, verbose=False, strategy=None):
        self._setup(black_box_model(model), batch_size, operator, strategy=strategy)
        self.model = model
        self.grid_size = ensure_positive_int(grid_size, "grid_size")
        self.nb_design = ensure_positive_int(nb_design, "nb_design", minimum=2)
        self.nb_channels = ensure_positive_int(nb_channels, "nb_channels")
        self.estimator_batch_size = ensure_optional_positive_int(
            estimator_batch_size, "estimator_batch_size"
        )
        self.sampler = TFSobolSequence(binary=True) if sampler is None else sampler
        self.estimator = BinaryEstimator(output_kernel="rbf") if estimator is None else estimator
        if not isinstance(self.sampler, Sampler) or self.sampler.replicated:
            raise TypeError(
                "`sampler` must be a plain (not replicated) sampler, e.g. "
                f"TFSobolSequence(binary=True). Received: {sampler!r}"
            )
        if not isinstance(self.estimator, HsicEstimator):
            ensure_callable(self.estimator, "estimator")
        self.perturbation_function = perturbation_function
        self.verbose = bool(verbose)
        self._grid = (self.grid_size, self.grid_size, self.nb_channels)
        self.masks, self._design_scores = design_kernel(
            self._scored_model, self.operator, self.sampler, self.nb_design, self._grid,
            perturbation_function,
        )

    def _estimator(self):
        if isinstance(self.estimator, HsicEstimator):
            return design_estimator(self.estimator, self.masks, self.nb_design, True,
                                    self.estimator_batch_size)
        return design_estimator(self.estimator, self.masks, self.nb_design, False)

    def _explain_group(self, inputs, targets, first_input):
        return explain_with_design(
            self._design_scores, inputs, targets, first_input, nb_masks=len(self.masks),
            grid=self._grid, batch_size=self.batch_size,
            estimate=self._estimator(),
            verbose=self.verbose, description="HsicAttributionMethod",
        )

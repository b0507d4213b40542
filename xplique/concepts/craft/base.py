"""CRAFT's backend-independent part: fit, transform, importance estimation and their results.

A backend (:class:`~xplique.concepts.craft.tf.CraftTf`,
:class:`~xplique.concepts.craft.torch.CraftTorch`) supplies four steps: cut images into
resized crops, encode inputs into latents (channels last), evaluate the class logit on
perturbed concept coefficients for a whole design, and put images channels last for plots.
"""

import abc
import dataclasses
import enum
from typing import Any, List, Optional

import numpy as np

from xplique.attributions.global_sensitivity_analysis.samplers import HaltonSequenceRS
from xplique.attributions.global_sensitivity_analysis.sobol_estimators import JansenEstimator
from xplique.commons.threads import single_threaded_blas
from xplique.commons.validation import ensure_positive_int

#: One colour per concept (RGB in [0, 1]), cycled; plots turn them into colour maps.
CONCEPT_COLOURS = (
    (0.12, 0.47, 0.71), (1.00, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
    (0.58, 0.40, 0.74), (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.50, 0.50, 0.50),
    (0.74, 0.74, 0.13), (0.09, 0.75, 0.81),
)


class DisplayImportancesOrder(enum.Enum):
    """Which concept importances order a per-image display: the class-level (GLOBAL) ones or
    those estimated on that image alone (LOCAL)."""

    GLOBAL = 0
    LOCAL = 1

    def __str__(self):
        return self.name.lower()


@dataclasses.dataclass
class Factorization:
    """What :meth:`fit` found.

    Attributes
    ----------
    inputs
        The images the concepts were extracted from.
    class_id
        The class they explain.
    crops
        The crops, resized to the input size (`(n_crops, *input_shape)`).
    reducer
        The fitted scikit-learn `NMF`.
    crops_u
        Concept coefficients of each crop `(n_crops, R)`.
    concept_bank_w
        The concept bank `W` `(R, n_latent_channels)`: latents are approximated by `U W`.
    coeffs_u
        Concept coefficients of `inputs`, once :meth:`estimate_importance` computed them.
    """

    inputs: Any
    class_id: int
    crops: np.ndarray
    reducer: Any
    crops_u: np.ndarray
    concept_bank_w: np.ndarray
    coeffs_u: Optional[np.ndarray] = None


@dataclasses.dataclass
class Sensitivity:
    """Class-level concept importances from :meth:`estimate_importance`.

    Attributes
    ----------
    importances
        Mean Sobol total index of each concept on the class logit `(R,)`.
    most_important_concepts
        Concept indices, most important first.
    cmaps
        One RGB colour per concept, used by the attribution-map plots.
    """

    importances: np.ndarray
    most_important_concepts: np.ndarray
    cmaps: Optional[List] = None


class BaseCraft(abc.ABC):
    """CRAFT: concepts as a non-negative factorization of a layer's activations on image crops,
    ranked by their Sobol total index on the class logit.

    Ref. Fel et al., CRAFT: Concept Recursive Activation FacTorization for Explainability
    (2023), https://arxiv.org/abs/2211.10154

    The model is cut in two: `g = input_to_latent_model` (images to non-negative latents,
    `(n, h, w, c)` maps or `(n, c)` vectors) and `h = latent_to_logit_model` (latents to
    logits). Crops of size `patch_size` (stride `int(0.8 patch_size)`) are resized to the
    input size and encoded; their spatially averaged latents `A` are factorized by NMF,
    `A ~ U W` with `U, W >= 0` (`alpha_W=1e-2`). The `R = number_of_concepts` rows of `W` are
    the concepts, `U` their coefficients.

    Parameters
    ----------
    input_to_latent_model
        The first part `g` of the model.
    latent_to_logit_model
        The second part `h`.
    number_of_concepts
        Number of concepts `R`.
    batch_size
        Model evaluations per forward pass (crops encoded, or perturbed latents decoded).
    patch_size
        Side of the square crops, in pixels.

    Notes
    -----
    :meth:`estimate_importance` draws one replicated Halton design of `nb_design (R + 2)`
    masks on the coefficients (the samplers and Jansen estimator of
    :mod:`xplique.attributions.global_sensitivity_analysis`) and evaluates `h(M U W)` for every
    (image, mask) pair in chunks of `batch_size` pairs, images and masks mixed in one chunk,
    instead of one loop per image. A 4-D `U` is masked by the same mask at every position.
    Negative latents raise a ValueError (NMF needs non-negative data). The NMF (`fit`,
    `transform`) runs with one BLAS thread
    (:func:`~xplique.commons.threads.single_threaded_blas`): its coordinate descent is
    sequential, and idle BLAS threads would otherwise spin on the cores the model evaluations
    that follow need.
    """

    factorization: Optional[Factorization]
    sensitivity: Optional[Sensitivity]

    def _setup(self, input_to_latent_model, latent_to_logit_model, number_of_concepts,
               batch_size, patch_size):
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.number_of_concepts = ensure_positive_int(number_of_concepts, "number_of_concepts")
        self.batch_size = ensure_positive_int(batch_size, "batch_size")
        self.patch_size = ensure_positive_int(patch_size, "patch_size")
        self.factorization = None
        self.sensitivity = None

    # -- backend steps ----------------------------------------------------------------------

    def _new_reducer(self):
        """The factorizer: scikit-learn's `NMF(number_of_concepts, alpha_W=1e-2)`."""
        from sklearn.decomposition import NMF  # pylint: disable=import-outside-toplevel

        return NMF(n_components=self.number_of_concepts, alpha_W=1e-2, random_state=0)

    @abc.abstractmethod
    def _crops(self, inputs) -> np.ndarray:
        """Crops of `inputs`, resized to the input size, in the backend's image layout."""

    @abc.abstractmethod
    def _latents(self, inputs) -> np.ndarray:
        """`g(inputs)` in batches, channels last: `(n, h, w, c)` or `(n, c)`."""

    @abc.abstractmethod
    def _channels_last_latents(self, activations) -> np.ndarray:
        """User-given activations of `g` in the channels-last layout."""

    @abc.abstractmethod
    def _design_scores(self, coeffs_u: np.ndarray, masks: np.ndarray, bank: np.ndarray,
                       class_id: int) -> np.ndarray:
        """Logit `class_id` of `h((U_i * m_j) W)` for every image `i` and mask `j`: `(N, M)`."""

    @abc.abstractmethod
    def _images_channels_last(self, images) -> np.ndarray:
        """Images as a numpy array `(N, H, W, C)` for display."""

    # -- the method -------------------------------------------------------------------------

    def fit(self, inputs, class_id: int = 0):
        """Extract the concepts of `inputs` for the class `class_id`.

        Parameters
        ----------
        inputs
            Images of the class (`(N, H, W, C)` for TF, `(N, C, H, W)` for torch).
        class_id
            The class explained (the logit the importances are measured on).

        Returns
        -------
        `(crops, crops_u, concept_bank_w)`: the resized crops, their concept coefficients
        `(n_crops, R)` and the concept bank `(R, c)`.
        """
        class_id = ensure_positive_int(class_id, "class_id", minimum=0)
        crops = self._crops(inputs)
        activations = self._checked(self._latents(crops), "input_to_latent_model")
        if activations.ndim == 4:
            activations = activations.mean(axis=(1, 2))
        activations = activations.reshape(len(activations), -1)
        reducer = self._new_reducer()
        with single_threaded_blas():
            crops_u = reducer.fit_transform(activations.astype(np.float64)).astype(np.float32)
        bank = reducer.components_.astype(np.float32)
        self.factorization = Factorization(inputs, class_id, crops, reducer, crops_u, bank)
        self.sensitivity = None
        return crops, crops_u, bank

    @staticmethod
    def _checked(activations: np.ndarray, name: str) -> np.ndarray:
        if activations.ndim not in (2, 4):
            raise ValueError(
                f"`{name}` must output latents (n, h, w, c) or (n, c). Received an output of "
                f"shape {activations.shape}"
            )
        smallest = float(activations.min()) if activations.size else 0.0
        if smallest < 0.0:
            raise ValueError(
                f"`{name}` must output non-negative activations (CRAFT factorizes them with "
                f"NMF), e.g. the output of a ReLU. Received a minimum of {smallest:.4g}"
            )
        return activations

    def _fitted(self) -> Factorization:
        if self.factorization is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(inputs) first")
        return self.factorization

    def transform(self, inputs, activations=None) -> np.ndarray:
        """Concept coefficients `U` of `inputs` (or of the given `g` activations):
        `(N, h, w, R)` for spatial latents, else `(N, R)`."""
        reducer = self._fitted().reducer
        if activations is None:
            activations = self._latents(inputs)
        else:
            activations = self._channels_last_latents(activations)
        activations = self._checked(activations, "activations")
        flat = activations.reshape(-1, activations.shape[-1]).astype(np.float64)
        with single_threaded_blas():
            coeffs = reducer.transform(flat).astype(np.float32)
        return coeffs.reshape(activations.shape[:-1] + (self.number_of_concepts,))

    def estimate_importance(self, inputs=None, nb_design: int = 32, *, seed=None) -> np.ndarray:
        """Sobol total index of each concept on the class logit, averaged over `inputs`.

        Parameters
        ----------
        inputs
            Images (None: those given to :meth:`fit`, and the result is also stored as
            :attr:`sensitivity`).
        nb_design
            Points of each of the two base designs; the model is evaluated
            `nb_design (R + 2)` times per image.
        seed
            Keyword-only. Seed of the scrambled Halton design (None: a fresh one).

        Returns
        -------
        Importances `(R,)`.
        """
        factorization = self._fitted()
        nb_design = ensure_positive_int(nb_design, "nb_design")
        store = inputs is None
        coeffs_u = self.transform(factorization.inputs if store else inputs)
        per_image = self.importances_per_image(coeffs_u, nb_design, seed=seed)
        importances = per_image.mean(axis=0)
        if store:
            factorization.coeffs_u = coeffs_u
            order = np.argsort(importances)[::-1]
            colours = [CONCEPT_COLOURS[i % len(CONCEPT_COLOURS)]
                       for i in range(self.number_of_concepts)]
            self.sensitivity = Sensitivity(importances, order, colours)
        return importances

    def importances_per_image(self, coeffs_u: np.ndarray, nb_design: int = 32, *,
                              seed=None) -> np.ndarray:
        """Sobol total indices `(N, R)` of the concepts on the class logit, one row per image
        of concept coefficients `coeffs_u` (from :meth:`transform`)."""
        factorization = self._fitted()
        masks = HaltonSequenceRS(seed=seed)(self.number_of_concepts, nb_design)
        scores = self._design_scores(np.asarray(coeffs_u, np.float32), masks,
                                     factorization.concept_bank_w, factorization.class_id)
        return JansenEstimator()(masks, scores, nb_design).numpy()

    # -- plots (matplotlib is imported by xplique.plots.concepts only) --------------------------

    def plot_concepts_importances(self, importances=None, display_importance_order=(
            DisplayImportancesOrder.GLOBAL), nb_most_important_concepts=None, verbose=False):
        """Bar plot of the concept importances (the stored ones by default)."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.concepts_importances(self, importances, display_importance_order,
                                          nb_most_important_concepts, verbose)

    def plot_concepts_crops(self, nb_crops=10, nb_most_important_concepts=None, verbose=False):
        """The `nb_crops` crops with the largest coefficient of each important concept."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.concepts_crops(self, nb_crops, nb_most_important_concepts, verbose)

    def plot_concept_attribution_legend(self, nb_most_important_concepts=6, border_width=5):
        """A legend: the best crop of each important concept, framed in its colour."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.concept_attribution_legend(self, nb_most_important_concepts, border_width)

    def plot_concept_attribution_maps(self, images, importances=None,
                                      nb_most_important_concepts=5, filter_percentile=90,
                                      clip_percentile=10, alpha=0.65, **plot_kwargs):
        """Each image with the coefficient maps of its important concepts over it."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.concept_attribution_maps(self, images, importances,
                                              nb_most_important_concepts, filter_percentile,
                                              clip_percentile, alpha, **plot_kwargs)

    def plot_concept_attribution_map(self, image, most_important_concepts,
                                     nb_most_important_concepts=5, filter_percentile=90,
                                     clip_percentile=10, alpha=0.65, **plot_kwargs):
        """One image with the coefficient maps of `most_important_concepts` on the current
        axes."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.concept_attribution_map(self, image, most_important_concepts,
                                             nb_most_important_concepts, filter_percentile,
                                             clip_percentile, alpha, **plot_kwargs)

    def plot_image_concepts(self, img, display_importance_order=DisplayImportancesOrder.GLOBAL,
                            nb_most_important_concepts=5, filter_percentile=90,
                            clip_percentile=10, alpha=0.65, filepath=None, **plot_kwargs):
        """An image with its concept maps, beside the importances and best crops of those
        concepts (GLOBAL: class-level order; LOCAL: importances on this image)."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.image_concepts(self, img, display_importance_order,
                                    nb_most_important_concepts, filter_percentile,
                                    clip_percentile, alpha, filepath, **plot_kwargs)

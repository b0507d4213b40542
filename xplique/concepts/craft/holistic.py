"""Holistic CRAFT: concepts of whole images at every latent position, attributed with any
attribution method on the concept coefficients, for classifiers and object detectors
(TensorFlow; :mod:`~xplique.concepts.craft.holistic_torch` adds PyTorch models).

The class holds the fitted state and the public methods; their steps live in
:mod:`~.holistic_factorization`, :mod:`~.holistic_records` (`encode`, `decode`),
:mod:`~.holistic_importance`, :mod:`~.holistic_reducers` and :mod:`~.holistic_localization`."""

from typing import Callable, List, Optional, Union

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import to_tensor
from xplique.commons.prediction_types import StructuredPrediction
from xplique.commons.validation import ensure_float, ensure_positive_int
from xplique.concepts.craft import holistic_importance as importance
from xplique.concepts.craft import holistic_localization as localization
from xplique.concepts.craft import holistic_records as records
from xplique.concepts.craft.base import CONCEPT_COLOURS, Factorization
from xplique.concepts.craft.concept_models import ConceptDecoder, ConceptLocalizer
from xplique.concepts.craft.holistic_factorization import coefficients, factorize, new_factorizer
from xplique.concepts.craft.holistic_reducers import (
    reduce_to_importance,
    reduce_to_prevalence,
    reduce_to_reliability,
)
from xplique.concepts.craft.latent_data import EncodedData, LatentData
from xplique.concepts.craft.latent_extractor import LatentExtractor


class HolisticCraft:
    """Holistic CRAFT: NMF of the latents of whole images at every position, `A ~ U W`, then
    the importance of each concept from any attribution method applied to the coefficients
    `U` through the concept decoder `u -> h(u W)`, for classifiers and object detectors.

    Ref. Fel et al., CRAFT: Concept Recursive Activation FacTorization for Explainability
    (2023), https://arxiv.org/abs/2211.10154 ; Fel et al., A Holistic Approach to Unifying
    Automatic Concept Extraction and Concept Importance Estimation (2023),
    https://arxiv.org/abs/2306.07304

    Parameters
    ----------
    latent_extractor
        A :class:`LatentExtractor` (e.g. from :meth:`LayeredModelExtractorBuilder.build`).
    number_of_concepts
        Number of concepts `R`.
    device
        Accepted for compatibility (the torch variant uses its extractor's device).
    factorizer
        An object with `fit_transform(A) -> U`, `transform` and `components_` (None:
        scikit-learn's `NMF(R, alpha_W=1e-2, max_iter=200)`; :class:`~.nmf.TfNMF` runs on
        the device).

    Notes
    -----
    - The task is read from the decoder's outputs: `(N, n_classes)` is a classifier (targets
      are one-hot classes), `(N, nb_boxes, 4 + 1 + n_classes)` a detector in the layout of
      docs/tasks.md (targets are the predicted boxes, filtered by class and objectness, and
      the operator defaults to `Tasks.OBJECT_DETECTION`).
    - All images are explained in one call of the explainer, batched by the extractor's
      `batch_size` (Xplique loops over images with a batch size of 1); images with fewer
      kept boxes are padded with zero rows, which the detection operators ignore.
    - `encode` computes the latents and coefficients of all images in batched passes and
      one `transform`, then hands them back as Xplique's records: one :class:`EncodedData`
      per `batch_size` images. `decode` does not overwrite the activations of the
      `latent_data` it is given (Xplique's does): it only checks that they match
      `coeffs_u`.
    - The concept localizer (:meth:`make_concept_localizer`) and `encode(...,
      differentiable=True)` solve the factorizer's transform problem in TensorFlow graph code
      (FISTA, :mod:`~.nnls`), so black-box explainers run them inside their compiled kernels.
    """

    _extractor_class = LatentExtractor

    def __init__(self, latent_extractor, number_of_concepts=20, device=None, factorizer=None):
        if not isinstance(latent_extractor, self._extractor_class):
            raise TypeError(
                f"`latent_extractor` must be a {self._extractor_class.__name__}. Received: "
                f"{type(latent_extractor).__name__}"
            )
        self.latent_extractor = latent_extractor
        self.number_of_concepts = ensure_positive_int(number_of_concepts, "number_of_concepts")
        self.device = device
        self.factorizer = factorizer
        self.factorization: Optional[Factorization] = None
        self.concept_bank_w: Optional[np.ndarray] = None
        self.coeffs_u: Optional[np.ndarray] = None
        self.class_id: Optional[int] = None
        self.cmaps = [CONCEPT_COLOURS[i % len(CONCEPT_COLOURS)]
                      for i in range(self.number_of_concepts)]
        self._reducer = None
        self._decoder_kernel = None
        self._coefficients_kernel = None

    @property
    def batch_size(self) -> int:
        """The latent extractor's batch size."""
        return self.latent_extractor.batch_size

    # -- factorization ----------------------------------------------------------------------

    def _images(self, inputs, resize=None) -> tf.Tensor:
        images = self.latent_extractor.channels_last_images(inputs)
        if images.shape.rank != 4 or images.shape[0] == 0:
            raise ValueError(
                "`inputs` must be a non-empty batch of images. Received: "
                f"inputs.shape={tuple(images.shape)}"
            )
        if resize is not None:
            images = tf.image.resize(images, resize, method="bilinear")
        return images

    def _latents(self, images: tf.Tensor) -> np.ndarray:
        return self.latent_extractor.latents_of_images(images).numpy()

    def fit(self, inputs, class_id: int = 0):
        """Factorize the latents of `inputs` at every position.

        Returns
        -------
        `(coeffs_u, concept_bank_w)`: coefficients `(N, ..., R)` and concepts `(R, c)`.
        """
        self.class_id = ensure_positive_int(class_id, "class_id", minimum=0)
        latents = self._latents(self._images(inputs))
        reducer = new_factorizer(self.factorizer, self.number_of_concepts)
        self.coeffs_u, self.concept_bank_w = factorize(reducer, latents, self.number_of_concepts)
        self._reducer = reducer
        self.factorization = Factorization(inputs, self.class_id, None, reducer, None,
                                           self.concept_bank_w, self.coeffs_u)
        self._decoder_kernel = None
        self._coefficients_kernel = None
        return self.coeffs_u, self.concept_bank_w

    def check_if_fitted(self):
        """Raise a ValueError unless :meth:`fit` was called."""
        if self._reducer is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(inputs) first")
        return self._reducer

    def transform(self, inputs=None, resize=None) -> np.ndarray:
        """Concept coefficients `(N, ..., R)` of `inputs` (None: those found by :meth:`fit`),
        after resizing the images to `resize` `(height, width)` when given."""
        reducer = self.check_if_fitted()
        if inputs is None:
            return self.coeffs_u
        return coefficients(reducer, self._latents(self._images(inputs, resize)),
                            self.number_of_concepts)

    def encode(self, inputs, resize=None, differentiable=False) -> List[EncodedData]:
        """Latents and concept coefficients of `inputs`, as one :class:`EncodedData` per
        `batch_size` images (the extractor's), in order.

        Parameters
        ----------
        inputs
            Images (resized to `resize` `(height, width)` when given).
        resize
            See above.
        differentiable
            False: the coefficients are numpy arrays from `factorizer.transform`. True: they
            are tensors from the localizer's graph solver
            (:func:`~.nnls.nonnegative_coefficients`), and gradients flow from them back to
            the latents and to the images (when computed under a `tf.GradientTape` watching
            them).

        Returns
        -------
        A list of :class:`EncodedData` `(latent_data, coeffs_u)`: `latent_data` a
        :class:`LayeredLatentData` of the batch's channels-last latents `(n, ..., c)`,
        `coeffs_u` `(n, ..., R)`.
        """
        reducer = self.check_if_fitted()
        images = self._images(inputs, resize)
        if differentiable:
            latents = self.latent_extractor.latents_of_images(images)
            if self._coefficients_kernel is None:
                self._coefficients_kernel = Compiled(
                    self.make_concept_localizer().latent_coefficients)
            coeffs = batched(self._coefficients_kernel, [latents], self.batch_size)
        else:
            latents = self._latents(images)
            coeffs = coefficients(reducer, latents, self.number_of_concepts)
            latents = tf.constant(latents)
        return records.encoded_batches(latents, coeffs, self.batch_size)

    def _decoder(self) -> ConceptDecoder:
        self.check_if_fitted()
        return ConceptDecoder(self.latent_extractor, self.concept_bank_w)

    def _decoded(self, coeffs_u) -> tf.Tensor:
        """Raw model outputs `h(U W)` of coefficients `coeffs_u`, in batches."""
        if self._decoder_kernel is None:
            self._decoder_kernel = Compiled(self._decoder())
        return batched(self._decoder_kernel, [to_tensor(coeffs_u, "coeffs_u")],
                       self.batch_size)

    def decode(self, latent_data: LatentData, coeffs_u) -> StructuredPrediction:
        """Model outputs `h(U W)` of the coefficients `coeffs_u` of one encoded batch, as a
        structured prediction.

        Parameters
        ----------
        latent_data
            The batch's :class:`LatentData` (from :meth:`encode`): it says how many inputs
            `coeffs_u` holds; its activations are not read or changed.
        coeffs_u
            Coefficients `(n, ..., R)` (numpy array or tensor), e.g. edited ones.

        Returns
        -------
        The extractor's `output_formatter` applied to the outputs when it has one, else a
        :class:`TfClassifierTensor` of `(n, n_classes)` scores, or for a detector a
        :class:`TfMultiBoxTensor` of the boxes: `(B, 4 + 1 + C)` for one image (Xplique's
        form), `(n, B, 4 + 1 + C)` for several.
        """
        coeffs = records.checked_coefficients(latent_data, coeffs_u, self.number_of_concepts)
        return records.decoded_prediction(self._decoded(coeffs),
                                          self.latent_extractor.output_formatter)

    # -- concept importance -----------------------------------------------------------------

    def compute_explanation_per_concept(self, images, partial_explainer, class_id=None,
                                        confidence=None, verbose=False) -> np.ndarray:
        """Attributions `(N, ..., R)` of the explained score to each concept coefficient at
        each position, by the explainer of `partial_explainer` run on the decoder
        `u -> h(u W)` with the coefficients of `images` as its inputs.

        Parameters
        ----------
        images
            Images to explain.
        partial_explainer
            A :class:`PartialExplainer`; built with the decoder and the extractor's
            `batch_size`. For a detector its `operator` defaults to `Tasks.OBJECT_DETECTION`.
        class_id
            Classifier: the explained class (None: the class given to :meth:`fit`).
            Detector: keep only the predicted boxes of this class (None: every class).
        confidence
            Detector: keep only the predicted boxes whose objectness is at least this
            (None: every box). Ignored for classifiers.
        verbose
            Print what is explained.
        """
        self.check_if_fitted()
        importance.require_partial_explainer(partial_explainer)
        if class_id is not None:
            class_id = ensure_positive_int(class_id, "class_id", minimum=0)
        if confidence is not None:
            confidence = ensure_float(confidence, "confidence")
        coeffs = self.transform(images)
        outputs = self._decoded(coeffs)
        targets = importance.explained_targets(outputs, class_id, confidence, self.class_id,
                                               verbose)
        explainer = importance.task_explainer(partial_explainer, outputs)(self._decoder(),
                                                                          self.batch_size)
        if verbose:
            print(f"HolisticCraft: explaining {len(coeffs)} images with "
                  f"{type(explainer).__name__}")
        explanation = explainer(coeffs, targets)
        return np.asarray(explanation.numpy() if hasattr(explanation, "numpy") else
                          explanation, np.float32)

    def estimate_importance(self, images, operator=None, class_id=None,
                            method="gradient_input", confidence=0.9, spatial_reducer="mean",
                            abs_before_reduce=True, aggregation_reducer="mean", verbose=False,
                            **method_kwargs) -> np.ndarray:
        """Concept importances `(R,)`: per-concept explanations reduced by
        :func:`~.holistic_reducers.reduce_to_importance`.

        `method`: "gradient_input" (`GradientInput(reducer=None)`) or "sobol"
        (`SobolAttributionMethod(grid_size=8, nb_design=32, perturbation_function="amplitude",
        nb_channels=R)`); `method_kwargs` override these settings. `operator`: the explained
        score (None: the class score, or `Tasks.OBJECT_DETECTION` for a detector).
        `class_id`, `confidence`: see :meth:`compute_explanation_per_concept`.
        """
        partial = importance.named_explainer(method, self.number_of_concepts, operator,
                                             method_kwargs)
        explanation = self.compute_explanation_per_concept(images, partial, class_id,
                                                           confidence, verbose)
        return reduce_to_importance(explanation, spatial_reducer, abs_before_reduce,
                                    aggregation_reducer)

    @staticmethod
    def reduce_to_importance(explanation, spatial_reducer="max", abs_before_reduce=True,
                             aggregation_reducer="mean") -> np.ndarray:
        """See :func:`~.holistic_reducers.reduce_to_importance`."""
        return reduce_to_importance(explanation, spatial_reducer, abs_before_reduce,
                                    aggregation_reducer)

    @staticmethod
    def reduce_to_prevalence(explanation) -> np.ndarray:
        """See :func:`~.holistic_reducers.reduce_to_prevalence`."""
        return reduce_to_prevalence(explanation)

    @staticmethod
    def reduce_to_reliability(explanation, accuracy) -> np.ndarray:
        """See :func:`~.holistic_reducers.reduce_to_reliability`."""
        return reduce_to_reliability(explanation, accuracy)

    # -- concept localization ---------------------------------------------------------------

    def make_concept_localizer(self, concept_reducer: Union[str, Callable] = "mean"):
        """A model mapping channels-last images to one score per concept `(n, R)` (float32):
        the concept map of each image reduced over its positions by `concept_reducer`
        ("mean", "sum", "max", or a callable of the `(n, ..., R)` maps returning `(n, R)`).

        It is TensorFlow graph code (a `tf.Module`), so explainers run it in their compiled
        kernels. The coefficients solve the factorizer's transform problem on the device
        (:func:`~.nnls.nonnegative_coefficients`, the ridge penalty read from the
        factorizer's `alpha_W` and `l1_ratio`), not through `factorizer.transform`.
        """
        reducer = self.check_if_fitted()
        return ConceptLocalizer(self.latent_extractor, self.concept_bank_w,
                                localization.ridge_penalty(reducer, self.concept_bank_w),
                                localization.localizer_reducer(concept_reducer))

    def attribute_concepts_to_inputs(self, images, partial_explainer,
                                     concept_ids: Optional[List[int]] = None,
                                     concept_reducer: Union[str, Callable] = "mean"
                                     ) -> np.ndarray:
        """Input-space localization maps of concepts `(N, H, W, R)` (float32): a black-box
        explainer attributes the score of each selected concept (the localizer of
        :meth:`make_concept_localizer`) to the pixels. Channel `k` is concept `k`; channels
        of concepts not in `concept_ids` are NaN.

        One explainer call explains every (image, concept) pair, batched by the extractor's
        `batch_size`. White-box (gradient) explainer classes are refused, as in Xplique: the
        localizer's iterative solver is not meant to be differentiated.
        """
        self.check_if_fitted()
        localization.require_black_box(partial_explainer)
        ids = localization.concept_indices(concept_ids, self.number_of_concepts)
        images = self._images(images)
        explainer = partial_explainer(self.make_concept_localizer(concept_reducer),
                                      self.batch_size)
        return localization.concept_input_maps(explainer, images, ids, self.number_of_concepts)

    # -- display (matplotlib is imported by xplique.plots.concepts only) --------------------

    def get_topk_images_per_concept(self, coeffs_u, topk: int = 3) -> np.ndarray:
        """Indices `(R, topk)` of the images with the largest mean coefficient of each
        concept, largest first."""
        topk = ensure_positive_int(topk, "topk")
        coeffs = np.asarray(coeffs_u, np.float64)
        means = coeffs.reshape(len(coeffs), -1, coeffs.shape[-1]).mean(axis=1)
        return np.argsort(-means, axis=0, kind="stable")[:topk].T

    def _display_images(self, images) -> np.ndarray:
        """Images as a channels-last numpy array, for display."""
        return self._images(images).numpy()

    def display_concept_heatmap(self, image, concept_heatmap, concept_idx, ax,
                                filter_percentile=80, clip_percentile=5):
        """Overlay one concept map on one channels-last image on the axes `ax`."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.holistic_concept_heatmap(self, image, concept_heatmap, concept_idx, ax,
                                              filter_percentile, clip_percentile)

    def display_images_per_concept(self, images, coeffs_u=None, filter_percentile=80,
                                   clip_percentile=5, order=None, concept_maps=None):
        """A figure with one row per image and one column per concept (in `order`): each
        image with that concept's coefficient map (or its `concept_maps` channel) over it."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.holistic_images_per_concept(self, images, coeffs_u, filter_percentile,
                                                 clip_percentile, order, concept_maps)

    def display_top_images_per_concept(self, images, topk=3, filter_percentile=80,
                                       clip_percentile=5, order=None, coeffs_u=None,
                                       concept_maps=None):
        """A figure with one column per concept: its `topk` images (by mean coefficient,
        :meth:`get_topk_images_per_concept`) with the concept map over them."""
        from xplique.plots import concepts as plots  # pylint: disable=import-outside-toplevel

        return plots.holistic_top_images_per_concept(self, images, topk, filter_percentile,
                                                     clip_percentile, order, coeffs_u,
                                                     concept_maps)


class HolisticCraftTf(HolisticCraft):
    """Holistic CRAFT for Keras models (see :class:`HolisticCraft` for the method, its
    parameters and notes).

    Parameters
    ----------
    latent_extractor
        A :class:`LatentExtractor` of Keras models.
    number_of_concepts
        Number of concepts `R`.
    factorizer
        See :class:`HolisticCraft`.
    """

    def __init__(self, latent_extractor, number_of_concepts=20, factorizer=None):
        super().__init__(latent_extractor, number_of_concepts, None, factorizer)

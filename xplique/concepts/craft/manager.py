"""CRAFT for several classes at once: one Craft per class of interest."""

import abc
from typing import Dict, Optional

import numpy as np

from xplique.commons.validation import ensure_positive_int
from xplique.concepts.craft.base import BaseCraft, DisplayImportancesOrder


class BaseCraftManager(abc.ABC):
    """One CRAFT per class of interest, each fitted on the inputs the model predicts as that
    class (the two parts chained: `argmax h(g(x))`).

    Ref. Fel et al., CRAFT: Concept Recursive Activation FacTorization for Explainability
    (2023), https://arxiv.org/abs/2211.10154

    Parameters
    ----------
    input_to_latent_model, latent_to_logit_model
        The two parts of the model, as for the Craft of the backend.
    inputs
        All the images.
    labels
        Their labels: class indices `(N,)` or one-hot rows `(N, n_classes)`.
    list_of_class_of_interest
        The classes explained (None: every class present in `labels`).
    number_of_concepts, batch_size, patch_size
        As for the Craft of the backend (the same for every class).

    Attributes
    ----------
    craft_instances
        Class index -> its Craft.
    """

    craft_instances: Dict[int, BaseCraft]

    def _setup(self, inputs, labels, list_of_class_of_interest):
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=-1)
        if labels.ndim != 1 or len(labels) != len(inputs):
            raise ValueError(
                "`labels` must hold one class index (or one-hot row) per input. Received: "
                f"labels.shape={np.asarray(labels).shape} for {len(inputs)} inputs"
            )
        self.inputs = inputs
        self.labels = labels.astype(int)
        if list_of_class_of_interest is None:
            list_of_class_of_interest = sorted(set(self.labels.tolist()))
        self.list_of_class_of_interest = [ensure_positive_int(c, "list_of_class_of_interest",
                                                              minimum=0)
                                          for c in list_of_class_of_interest]
        self.craft_instances = {c: self._new_craft() for c in self.list_of_class_of_interest}

    @abc.abstractmethod
    def _new_craft(self) -> BaseCraft:
        """A Craft of the backend with the manager's settings."""

    @abc.abstractmethod
    def compute_predictions(self) -> np.ndarray:
        """Predicted class of every input `(N,)`, `batch_size` inputs per pass."""

    @abc.abstractmethod
    def _select(self, inputs, indices):
        """The inputs at `indices`."""

    def fit(self, nb_samples_per_class: Optional[int] = None, verbose: bool = False):
        """Fit the Craft of each class of interest on (at most `nb_samples_per_class` of) the
        inputs predicted as that class."""
        if nb_samples_per_class is not None:
            nb_samples_per_class = ensure_positive_int(nb_samples_per_class,
                                                       "nb_samples_per_class")
        predictions = self.compute_predictions()
        for class_id, craft in self.craft_instances.items():
            indices = np.flatnonzero(predictions == class_id)[:nb_samples_per_class]
            if len(indices) == 0:
                raise ValueError(
                    f"No input is predicted as class {class_id}, so its concepts cannot be "
                    "extracted: remove it from `list_of_class_of_interest`"
                )
            if verbose:
                print(f"CRAFT: fitting class {class_id} on {len(indices)} inputs")
            craft.fit(self._select(self.inputs, indices), class_id=class_id)

    def estimate_importance(self, nb_design: int = 32, verbose: bool = False, *, seed=None):
        """Estimate the concept importances of every class (stored on each Craft)."""
        for class_id, craft in self.craft_instances.items():
            if verbose:
                print(f"CRAFT: estimating the importances of class {class_id}")
            craft.estimate_importance(nb_design=nb_design, seed=seed)

    def _craft(self, class_id) -> BaseCraft:
        if class_id not in self.craft_instances:
            raise ValueError(
                f"`class_id` must be one of {self.list_of_class_of_interest}. "
                f"Received: class_id={class_id!r}"
            )
        return self.craft_instances[class_id]

    def plot_concepts_importances(self, class_id, nb_most_important_concepts=5,
                                  verbose=False):
        """The concept importances of `class_id` (see the Craft method)."""
        return self._craft(class_id).plot_concepts_importances(
            nb_most_important_concepts=nb_most_important_concepts, verbose=verbose)

    def plot_concepts_crops(self, class_id, nb_crops=10, nb_most_important_concepts=None):
        """The best crops of the concepts of `class_id` (see the Craft method)."""
        return self._craft(class_id).plot_concepts_crops(
            nb_crops=nb_crops, nb_most_important_concepts=nb_most_important_concepts)

    def plot_image_concepts(self, img, class_id,
                            display_importance_order=DisplayImportancesOrder.GLOBAL,
                            nb_most_important_concepts=5, filter_percentile=90,
                            clip_percentile=10, alpha=0.65, filepath=None):
        """An image with the concepts of `class_id` (see the Craft method)."""
        return self._craft(class_id).plot_image_concepts(
            img, display_importance_order, nb_most_important_concepts, filter_percentile,
            clip_percentile, alpha, filepath)


class CraftManagerTf(BaseCraftManager):
    """:class:`BaseCraftManager` for Keras models (one :class:`~.tf.CraftTf` per class;
    keyword-only `nmf` as for CraftTf)."""

    def __init__(self, input_to_latent_model, latent_to_logit_model, inputs, labels,
                 list_of_class_of_interest=None, number_of_concepts=20, batch_size=64,
                 patch_size=64, *, nmf="sklearn"):
        from xplique.concepts.craft.tf import CraftTf  # pylint: disable=import-outside-toplevel

        self._make = lambda: CraftTf(input_to_latent_model, latent_to_logit_model,
                                     number_of_concepts, batch_size, patch_size, nmf=nmf)
        self._predictor = self._make()  # validates the parts; its kernels predict
        self._setup(np.asarray(inputs, np.float32), labels, list_of_class_of_interest)

    def _new_craft(self):
        return self._make()

    def _select(self, inputs, indices):
        return inputs[indices]

    def compute_predictions(self):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from xplique.commons.batching import batched  # pylint: disable=C0415
        from xplique.commons.compiled import Compiled  # pylint: disable=C0415
        from xplique.commons.model_surgery import run_model  # pylint: disable=C0415

        craft = self._predictor
        chained = Compiled(lambda x: tf.argmax(run_model(
            craft.latent_to_logit_model, run_model(craft.input_to_latent_model, x)), axis=-1))
        return batched(chained, [tf.constant(self.inputs)], craft.batch_size).numpy()


class CraftManagerTorch(BaseCraftManager):
    """:class:`BaseCraftManager` for PyTorch models (one :class:`~.torch.CraftTorch` per
    class); images channels first, `device` as for CraftTorch."""

    def __init__(self, input_to_latent_model, latent_to_logit_model, inputs, labels,
                 list_of_class_of_interest=None, number_of_concepts=20, batch_size=64,
                 patch_size=64, device="cuda"):
        from xplique.concepts.craft.torch import CraftTorch  # pylint: disable=C0415

        self._predictor = CraftTorch(input_to_latent_model, latent_to_logit_model,
                                     number_of_concepts, batch_size, patch_size, device)
        resolved = self._predictor.device
        self._make = lambda: CraftTorch(input_to_latent_model, latent_to_logit_model,
                                        number_of_concepts, batch_size, patch_size, resolved)
        self._setup(inputs, labels, list_of_class_of_interest)

    def _new_craft(self):
        return self._make()

    def _select(self, inputs, indices):
        import torch  # pylint: disable=import-outside-toplevel

        if isinstance(inputs, torch.Tensor):
            return inputs[torch.as_tensor(indices, dtype=torch.long, device=inputs.device)]
        return np.asarray(inputs)[indices]

    def compute_predictions(self):
        import torch  # pylint: disable=import-outside-toplevel

        from xplique.commons.batching import chunk_ranges  # pylint: disable=C0415

        craft = self._predictor
        images = craft._tensor(self.inputs)  # pylint: disable=protected-access
        predictions = []
        with torch.no_grad():
            for start, stop in chunk_ranges(len(images), craft.batch_size):
                latents = craft.input_to_latent_model(images[start:stop])
                predictions.append(craft.latent_to_logit_model(latents).argmax(-1))
        return torch.cat(predictions).cpu().numpy()

"""Representativity: do models trained on different data explain a sample the same way?"""

import warnings
from typing import Callable, List, Tuple

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.data import output_size, prepare_targets, to_tensor
from xplique.commons.distribution import Distributed, ensure_strategy
from xplique.commons.gradients import outputs_of
from xplique.commons.validation import ensure_batch_size, ensure_callable, ensure_positive_int
from xplique.metrics.base import flat_maps, metric_data, progress_bar
from xplique.metrics.similarity import spearman_rows


class MeGe(Distributed):
    """MeGe and ReCo: the generalisation and the consistency of explanations across models
    trained on different folds of the data.

    The data is split into `k_splits` folds and one model is trained per fold held out. For a
    sample and a pair of models one of which never saw it, the distance between their
    explanations is `d = sqrt(1 - |rho|)` with `rho` the Spearman correlation of the maps.
    Pairs where both models predict the sample correctly form `S=`, pairs where exactly one does
    form `S!=`.

    - `MeGe = 1 / (1 + mean(S=))`, in (0, 1]. **Higher is better** (1: models that agree on a
      sample explain it identically).
    - `ReCo = max_gamma TPR(gamma) + TNR(gamma) - 1`, where `TPR` is the share of `S!=`
      distances above the threshold `gamma` and `TNR` the share of `S=` distances at or below
      it, in [0, 1]. **Higher is better** (explanations separate agreeing from disagreeing
      models).

    Ref. Fel et al., How Good is your Explanation? Algorithmic Stability Measures to Assess the
    Quality of Explanations for Deep Neural Networks (2022), https://arxiv.org/abs/2009.04521

    Parameters
    ----------
    learning_algorithm
        `learning_algorithm(x_train, y_train, x_test, y_test) -> model`, called once per fold
        (in the constructor) with numpy arrays; the targets are passed as given.
    inputs
        Numpy array or tensor of inputs `(N, ...)`.
    targets
        Targets `(N, n_outputs)` or integer class indices `(N,)` (required).
    batch_size
        Model evaluations per forward pass when checking the models' predictions.
    k_splits
        Number of folds (>= 2); folds may differ in size by one sample.
    verbose
        Keyword-only. Show a progress bar over the trained models.
    strategy
        Keyword-only, as in :class:`~xplique.metrics.base.BaseAttributionMetric`: the
        strategy of the predictions checked and of the explainers run (whose own `strategy` is
        None).

    Notes
    -----
    ReCo maximises over every distinct distance as threshold (exact), where Xplique samples
    about one value in twenty. ReCo is NaN (with a warning) when `S=` or `S!=` is empty, and
    MeGe is NaN when `S=` is empty. Folds need not divide N.
    """

    distributed_methods = ("__init__", "evaluate")

    def __init__(self, learning_algorithm, inputs, targets=None, batch_size=64, k_splits=4, *,
                 verbose=False, strategy=None):
        self.strategy = ensure_strategy(strategy)
        self.learning_algorithm = ensure_callable(learning_algorithm, "learning_algorithm")
        self.inputs, targets = metric_data(inputs, targets)
        if targets is None:
            raise ValueError("`targets` is required by MeGe: the models are trained on them")
        targets_array = np.asarray(targets)
        if targets_array.shape[:1] != (self.inputs.shape[0],):
            raise ValueError(
                "`inputs` and `targets` must have the same number of samples. Received: "
                f"inputs.shape={tuple(self.inputs.shape)}, targets.shape={targets_array.shape}"
            )
        self.batch_size = ensure_batch_size(batch_size)
        self.k_splits = ensure_positive_int(k_splits, "k_splits", minimum=2)
        if self.k_splits > self.inputs.shape[0]:
            raise ValueError(
                f"`k_splits` must be at most the number of inputs ({self.inputs.shape[0]}). "
                f"Received: k_splits={k_splits}"
            )
        self.verbose = bool(verbose)
        self.folds = np.array_split(np.arange(int(self.inputs.shape[0])), self.k_splits)
        inputs_array = self.inputs.numpy()
        self.models = []
        for fold in progress_bar(self.k_splits, self.verbose, "MeGe training", self.folds):
            train = np.setdiff1d(np.arange(len(inputs_array)), fold)
            self.models.append(self.learning_algorithm(
                inputs_array[train], targets_array[train], inputs_array[fold],
                targets_array[fold],
            ))
        self.targets = prepare_targets(
            to_tensor(targets_array, "targets", dtype=tf.float64),
            lambda: output_size(self.models[0], self.inputs),
        )
        self._correct = np.stack([self._is_correct(model) for model in self.models])

    def _is_correct(self, model) -> np.ndarray:
        outputs = batched(outputs_of(model), [self.inputs], self.batch_size)
        return (tf.argmax(outputs, -1) == tf.argmax(self.targets, -1)).numpy()

    def evaluate(self, explainer_class: Callable, explainer_params=None) -> Tuple[float, float]:
        """Return `(mege, reco)` for an explainer built as `explainer_class(model, **params)`."""
        ensure_callable(explainer_class, "explainer_class")
        params = dict(explainer_params or {})
        maps: List[tf.Tensor] = []
        for model in progress_bar(self.k_splits, self.verbose, "MeGe explanations", self.models):
            maps.append(flat_maps(explainer_class(model, **params)(self.inputs, self.targets)))
        same, different = self._distances(maps)
        return _mege(same), _reco(same, different)

    def __call__(self, explainer_class: Callable, explainer_params=None):
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explainer_class, explainer_params)

    def _distances(self, maps: List[tf.Tensor]) -> Tuple[np.ndarray, np.ndarray]:
        """Distances of the (held-out model, other model) pairs, split into S= and S!=."""
        same, different = [], []
        for held_out, fold in enumerate(self.folds):
            for other in range(self.k_splits):
                if other == held_out:
                    continue
                rho = spearman_rows(tf.gather(maps[held_out], fold), tf.gather(maps[other], fold))
                distance = np.sqrt(np.clip(1.0 - np.abs(rho.numpy()), 0.0, None))
                first, second = self._correct[held_out, fold], self._correct[other, fold]
                same.append(distance[first & second])
                different.append(distance[first ^ second])
        return np.concatenate(same), np.concatenate(different)


def _mege(same: np.ndarray) -> float:
    if same.size == 0:
        warnings.warn("MeGe: no pair of models both predicted a sample correctly; MeGe is NaN",
                      RuntimeWarning, stacklevel=3)
        return float("nan")
    return float(1.0 / (1.0 + np.mean(same)))


def _reco(same: np.ndarray, different: np.ndarray) -> float:
    if same.size == 0 or different.size == 0:
        warnings.warn("ReCo needs pairs where both models are right (S=) and pairs where exactly "
                      "one is (S!=); one set is empty, so ReCo is NaN", RuntimeWarning,
                      stacklevel=3)
        return float("nan")
    thresholds = np.unique(np.concatenate([same, different]))
    same_sorted, different_sorted = np.sort(same), np.sort(different)
    true_negative = np.searchsorted(same_sorted, thresholds, side="right") / same.size
    above = different.size - np.searchsorted(different_sorted, thresholds, side="right")
    true_positive = above / different.size
    return float(np.max(true_positive + true_negative - 1.0))

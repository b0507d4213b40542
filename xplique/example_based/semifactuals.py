"""KLEOR semi-factuals: cases of the input's class nearest to its nearest unlike neighbour."""

import numpy as np
import tensorflow as tf

from xplique.example_based.base import RETURNS, BaseExampleMethod
from xplique.example_based.counterfactuals import _required, require_case_classes
from xplique.example_based.search import KNNSearch, flatten

KLEOR_RETURNS = RETURNS + ("nuns", "nuns_indices", "dist_to_nuns", "nuns_labels")


class _KLEOR(BaseExampleMethod):
    """Shared search of the KLEOR variants (the class docstrings say what each keeps)."""

    _returns_possibilities = KLEOR_RETURNS
    _between = False

    def __init__(self, cases_dataset, targets_dataset, labels_dataset=None, k=1,
                 projection=None, case_returns="examples", batch_size=None,
                 distance="euclidean"):
        require_case_classes(cases_dataset, targets_dataset)
        self.nun_search = KNNSearch(distance, 1, class_rule="differ")
        self.search_engine = KNNSearch(distance, k, class_rule="equal",
                                       ranked_by_second_query=True)
        self._setup(cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
                    batch_size, class_column=2)
        if "nuns_labels" in self.returns and not self.cases.has_labels:
            raise ValueError("`case_returns` asks for 'nuns_labels' but no `labels_dataset` "
                             "was given")

    def explain(self, inputs, targets=None):
        """Semi-factuals of `inputs` classified as `targets` (one-hot or indices, required).

        Besides the outputs of :meth:`BaseExampleMethod.explain`, `case_returns` may ask for
        "nuns" `(n, 1, ...)`, "nuns_indices" `(n, 1)`, "nuns_labels" `(n, 1)` and
        "dist_to_nuns" `(n, k)` (distance of each semi-factual to the NUN). "distances" are
        the distances between the inputs and their semi-factuals.
        """
        return self._explain(inputs, targets, {})

    def _search(self, inputs, targets, projected, **extras):
        classes = _required(targets, "targets", type(self).__name__)
        nun_distance, nun_index, _ = self.nun_search.search(
            projected, self.projected_cases(), query_classes=classes)
        nun_index_np = nun_index.numpy()
        nun_cases = self.cases.gather(nun_index_np[:, 0])
        nun_targets = self.cases.gather(nun_index_np[:, 0], column=2)
        has_nun = nun_index_np[:, 0] >= 0
        nun_cases = tf.where(_rows_mask(has_nun, nun_cases), nun_cases,
                             tf.zeros_like(nun_cases))
        nun_targets = tf.where(_rows_mask(has_nun, nun_targets), nun_targets,
                               tf.zeros_like(nun_targets))
        nun_projected = flatten(self.projection(tf.cast(nun_cases, tf.float32), nun_targets))
        bounds = nun_distance[:, 0] if self._between else tf.fill([len(has_nun)], np.inf)
        bounds = tf.where(has_nun, tf.cast(bounds, tf.float32), -np.inf)
        distances, indices, to_nun = self.search_engine.search(
            projected, self.projected_cases(), query_classes=classes,
            rank_queries=nun_projected, bounds=bounds)
        found = {"distances": distances, "indices": indices, "nuns_indices": nun_index,
                 "dist_to_nuns": to_nun}
        if "nuns" in self.returns:
            found["nuns"] = tf.cast(self.cases.gather(nun_index_np), tf.float32)
        if "nuns_labels" in self.returns:
            found["nuns_labels"] = self.cases.gather(nun_index_np, column=1)
        return found


def _rows_mask(rows: np.ndarray, like: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.constant(rows), [-1] + [1] * (like.shape.rank - 1)) & tf.ones_like(
        like, tf.bool)


class KLEORSimMiss(_KLEOR):
    """KLEOR Sim-Miss semi-factuals: the `k` cases of the input's class nearest to the input's
    nearest unlike neighbour (NUN, the nearest case of another class).

    Ref. Cummins & Bridge, KLEOR: A Knowledge Lite Approach to Explanation Oriented Retrieval
    (2006), https://www.cai.sk/ojs/index.php/cai/article/view/338

    The shared parameters are described in :class:`BaseExampleMethod`; `targets_dataset`
    (the cases' classes) is required and `explain(inputs, targets)` needs the inputs' classes.

    Parameters
    ----------
    distance
        As in :class:`SimilarExamples`.

    Notes
    -----
    Classes are the model's predictions (`targets`), as in Xplique, rather than true labels.
    The paper returns one case; the `k` nearest to the NUN are returned here.
    """


class KLEORGlobalSim(_KLEOR):
    """KLEOR Global-Sim semi-factuals: like :class:`KLEORSimMiss`, keeping only the cases
    that lie between the input and its NUN, `d(input, case) < d(input, NUN)`.

    Ref. Cummins & Bridge, KLEOR: A Knowledge Lite Approach to Explanation Oriented Retrieval
    (2006), https://www.cai.sk/ojs/index.php/cai/article/view/338

    Parameters
    ----------
    distance
        As in :class:`SimilarExamples`.

    Notes
    -----
    The "between" condition is Xplique's documented one, `d(input, case) < d(input, NUN)`.
    Slots left without a qualifying case have distance inf, index -1 and NaN examples.
    """

    _between = True

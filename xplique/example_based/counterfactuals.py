"""Counterfactual examples: the nearest cases that the model classifies differently."""

import numpy as np
import tensorflow as tf

from xplique.example_based.base import BaseExampleMethod, as_classes
from xplique.example_based.search import KNNSearch


def _required(value, name: str, method: str):
    if value is None:
        raise ValueError(f"`{name}` is required by {method}.explain (one-hot rows or class "
                         f"indices, one per input). Received: {name}=None")
    return as_classes(tf.convert_to_tensor(value))


class NaiveCounterFactuals(BaseExampleMethod):
    """The `k` nearest cases whose class (from `targets_dataset`, usually the model's
    predictions) differs from the input's class (its `targets`).

    Ref. Keane & Smyth, Good Counterfactuals and Where to Find Them: A Case-Based Technique for
    Generating Counterfactuals for Explainable AI (2020), https://arxiv.org/abs/2005.13997

    The shared parameters are described in :class:`BaseExampleMethod`; `targets_dataset` is
    required here. `explain(inputs, targets)` needs the inputs' targets (their predicted
    classes, one-hot or indices).

    Parameters
    ----------
    distance
        As in :class:`SimilarExamples`.

    Notes
    -----
    Inputs whose class is the only class among the cases raise a ValueError (no
    counterfactual exists).
    """

    def __init__(self, cases_dataset, targets_dataset, labels_dataset=None, k=1,
                 projection=None, case_returns="examples", batch_size=None,
                 distance="euclidean"):
        require_case_classes(cases_dataset, targets_dataset)
        self.search_engine = KNNSearch(distance, k, class_rule="differ")
        self._setup(cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
                    batch_size, class_column=2)

    def explain(self, inputs, targets=None):
        """Counterfactuals of `inputs` classified as `targets` (see
        :meth:`BaseExampleMethod.explain`)."""
        return self._explain(inputs, targets, {})

    def _search(self, inputs, targets, projected, **extras):
        classes = _required(targets, "targets", type(self).__name__)
        asked = set(np.unique(classes.numpy()).tolist())
        if len(self.case_classes) == 1 and asked & self.case_classes:
            raise ValueError(f"Every case has class {sorted(self.case_classes)[0]}, so inputs of "
                             "that class have no counterfactual among the cases")
        distances, indices, _ = self.search_engine.search(
            projected, self.projected_cases(), query_classes=classes)
        return {"distances": distances, "indices": indices}


class LabelAwareCounterFactuals(BaseExampleMethod):
    """The `k` nearest cases of a class the user chooses per input
    (`explain(inputs, targets, cf_expected_classes)`).

    Ref. Keane & Smyth, Good Counterfactuals and Where to Find Them (2020),
    https://arxiv.org/abs/2005.13997

    The shared parameters are described in :class:`BaseExampleMethod`; the cases' classes
    come from `targets_dataset` (required).

    Parameters
    ----------
    distance
        As in :class:`SimilarExamples`.

    Notes
    -----
    An expected class that no case has raises a ValueError. `targets` are accepted for
    Xplique compatibility and given to the projection only.
    """

    def __init__(self, cases_dataset, targets_dataset, labels_dataset=None, k=1,
                 projection=None, case_returns="examples", batch_size=None,
                 distance="euclidean"):
        require_case_classes(cases_dataset, targets_dataset)
        self.search_engine = KNNSearch(distance, k, class_rule="equal")
        self._setup(cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
                    batch_size, class_column=2)

    def explain(self, inputs, targets=None, cf_expected_classes=None):
        """The nearest cases of class `cf_expected_classes` (one-hot rows or indices, one per
        input) for each input; see :meth:`BaseExampleMethod.explain` for the output."""
        expected = _required(cf_expected_classes, "cf_expected_classes",
                             "LabelAwareCounterFactuals")
        missing = sorted(set(np.unique(expected.numpy()).tolist()) - self.case_classes)
        if missing:
            raise ValueError(f"`cf_expected_classes` asks for classes {missing} that no case has."
                             f" Classes of the cases: {sorted(self.case_classes)}")
        return self._explain(inputs, targets, {"expected": expected})

    def __call__(self, inputs, targets=None, cf_expected_classes=None):
        """Alias of :meth:`explain`."""
        return self.explain(inputs, targets, cf_expected_classes)

    def _search(self, inputs, targets, projected, expected=None):
        distances, indices, _ = self.search_engine.search(
            projected, self.projected_cases(), query_classes=expected)
        return {"distances": distances, "indices": indices}


def require_case_classes(cases_dataset, targets_dataset) -> None:
    """Raise unless the cases' classes are given: `targets_dataset`, or a third (targets)
    column of `cases_dataset`."""
    spec = getattr(cases_dataset, "element_spec", None)
    has_column = isinstance(spec, (tuple, list)) and len(spec) >= 3
    if targets_dataset is None and not has_column:
        raise ValueError("`targets_dataset` is required (the classes of the cases, usually "
                         "the model's one-hot predictions). Received: targets_dataset=None")

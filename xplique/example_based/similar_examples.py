"""Similar examples: the k nearest cases in the projected space."""

from xplique.example_based.base import BaseExampleMethod
from xplique.example_based.search import KNNSearch


class SimilarExamples(BaseExampleMethod):
    """The `k` cases nearest to each input in the projected space (a k-nearest-neighbour
    explanation, the "twin" cases of a prediction).

    Ref. Fix & Hodges, Discriminatory Analysis, Nonparametric Discrimination: Consistency
    Properties (1951), https://doi.org/10.2307/1403797

    The shared parameters are described in :class:`BaseExampleMethod`.

    Parameters
    ----------
    distance
        "euclidean", "manhattan", "cosine", "chebyshev" (or "inf"), an int p (Minkowski), or
        a callable `f(x1 (1, d), x2 (m, d)) -> (m,)`.

    Notes
    -----
    Ties are broken by case index (the lower first). The search runs over chunks of
    `batch_size` cases with a running top-k, so its memory does not grow with the cases.

    Examples
    --------
    >>> import numpy as np
    >>> cases = np.array([[0.0], [1.0], [3.0]], "float32")
    >>> explainer = SimilarExamples(cases, k=2, case_returns=["indices", "distances"])
    >>> explainer(np.array([[2.9]], "float32"))["indices"].numpy().tolist()
    [[2, 1]]
    """

    def __init__(self, cases_dataset, labels_dataset=None, targets_dataset=None, k=1,
                 projection=None, case_returns="examples", batch_size=None,
                 distance="euclidean"):
        self.search_engine = KNNSearch(distance, k)
        self._setup(cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
                    batch_size)

    def _search(self, inputs, targets, projected, **extras):
        distances, indices, _ = self.search_engine.search(projected, self.projected_cases())
        return {"distances": distances, "indices": indices}

"""COLE: a twin system searching cases in a space weighted by the model's attributions."""

from xplique.example_based.base import BaseExampleMethod
from xplique.example_based.projections import AttributionProjection, HadamardProjection
from xplique.example_based.search import KNNSearch


class Cole(BaseExampleMethod):
    """COLE (Contributions Oriented Local Explanations): nearest cases after weighting each
    feature by its contribution to the prediction (a CBR twin of the network).

    Ref. Kenny & Keane, Twin-Systems to Explain Artificial Neural Networks using Case-Based
    Reasoning: Comparative Tests of Feature-Weighting Methods in ANN-CBR Twins for XAI (2019),
    https://www.ijcai.org/proceedings/2019/0376.pdf

    The shared parameters are described in :class:`BaseExampleMethod`.

    Parameters
    ----------
    model
        The Keras model explained (never modified).
    distance
        As in :class:`SimilarExamples`.
    latent_layer
        None (input space), "last_conv", or a layer name or index: the features weighted.
    attribution_method
        "gradient" (features times their gradient, :class:`HadamardProjection`) or an
        attribution method class of :mod:`xplique.attributions` (:class:`AttributionProjection`).
    **attribution_kwargs
        Passed to the attribution method (or `operator` to the Hadamard projection).

    Notes
    -----
    Cases are weighted with their `targets_dataset` rows, or the model's predicted class when
    None; inputs with `explain`'s targets, or their predicted class.
    """

    def __init__(self, cases_dataset, model, labels_dataset=None, targets_dataset=None, k=1,
                 distance="euclidean", case_returns="examples", batch_size=None,
                 latent_layer=None, attribution_method="gradient", **attribution_kwargs):
        self.model = model
        if isinstance(attribution_method, str):
            if attribution_method != "gradient":
                raise ValueError("`attribution_method` must be 'gradient' or an attribution "
                                 f"method class. Received: attribution_method="
                                 f"{attribution_method!r}")
            projection = HadamardProjection(model, latent_layer, **attribution_kwargs)
        elif isinstance(attribution_method, type):
            projection = AttributionProjection(model, attribution_method, latent_layer,
                                               **attribution_kwargs)
        else:
            raise TypeError("`attribution_method` must be 'gradient' or an attribution method "
                            f"class. Received: attribution_method={attribution_method!r}")
        self.search_engine = KNNSearch(distance, k)
        self._setup(cases_dataset, labels_dataset, targets_dataset, k, projection, case_returns,
                    batch_size)

    def _search(self, inputs, targets, projected, **extras):
        distances, indices, _ = self.search_engine.search(projected, self.projected_cases())
        return {"distances": distances, "indices": indices}

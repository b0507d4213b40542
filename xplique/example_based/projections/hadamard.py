"""Hadamard projection: latent features times their gradient (the COLE contribution)."""

from typing import Optional

import tensorflow as tf

from xplique.commons.compiled import Compiled
from xplique.commons.gradients import input_gradients, outputs_of
from xplique.commons.model_surgery import find_conv_layer, layer_output_and_gradient, split_at
from xplique.commons.operators import get_operator
from xplique.example_based.projections.base import Projection, targets_or_predictions
from xplique.types import LayerRef


class HadamardProjection(Projection):
    """Projection `x -> f_l(x) * d g(h(f_l(x)), y) / d f_l(x)`: the latent features (the input
    when `latent_layer` is None) weighted element-wise by the gradient of the operator score.

    Ref. Kenny & Keane, Twin-Systems to Explain Artificial Neural Networks using Case-Based
    Reasoning: Comparative Tests of Feature-Weighting Methods in ANN-CBR Twins for XAI (2019),
    https://www.ijcai.org/proceedings/2019/0376.pdf

    Parameters
    ----------
    model
        The Keras model (never modified).
    latent_layer
        None (input space), "last_conv", or a layer name or index.
    operator
        The score `g(model, inputs, targets) -> (N,)` differentiated (classification when None).
    device, mappable
        Accepted for compatibility with Xplique.
    features_extractor, predictor
        Instead of `model` and `latent_layer`: a callable to the latent space and the model
        from it to the outputs (both given, or neither).

    Notes
    -----
    Targets None (explained inputs without targets, cases without `targets_dataset`) use the
    model's predicted class.
    """

    def __init__(self, model=None, latent_layer: Optional[LayerRef] = None, operator=None,
                 device: Optional[str] = None, features_extractor=None, predictor=None,
                 mappable: bool = True):
        self.model = model
        self.latent_layer = latent_layer
        self.operator = get_operator(operator)
        if (features_extractor is None) != (predictor is None):
            raise ValueError("`features_extractor` and `predictor` go together. Received only "
                             f"{'features_extractor' if predictor is None else 'predictor'}")
        if model is None and features_extractor is None:
            raise ValueError("HadamardProjection needs `model`, or `features_extractor` and "
                             "`predictor`. Received none")
        if features_extractor is not None:
            self._outputs = outputs_of(lambda x: predictor(features_extractor(x)))

            def kernel(x, y):
                features = features_extractor(x)
                return features * input_gradients(predictor, self.operator, features, y)
        elif latent_layer is None:
            self._outputs = outputs_of(model)
            kernel = lambda x, y: x * input_gradients(model, self.operator, x, y)  # noqa: E731
        else:
            self._outputs = outputs_of(model)
            if isinstance(latent_layer, str) and latent_layer == "last_conv":
                latent_layer = find_conv_layer(model).name
            split = split_at(model, latent_layer)

            def kernel(x, y):
                features, gradients = layer_output_and_gradient(split, self.operator, x, y)
                return features * gradients
        self._kernel = Compiled(kernel)
        super().__init__(device=device, mappable=mappable, requires_targets=True)

    def project(self, inputs, targets=None) -> tf.Tensor:
        inputs = tf.cast(tf.convert_to_tensor(inputs), tf.float32)
        targets = targets_or_predictions(self._outputs, inputs, targets)
        return tf.cast(self._kernel(inputs, targets), tf.float32)

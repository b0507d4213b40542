"""The two halves of a model that Holistic CRAFT works between, and deferred explainers.

:class:`LatentExtractor` holds `g` (inputs to latents) and `h` (latents to outputs);
:class:`LayeredModelExtractorBuilder` cuts a single-input functional Keras model at a layer;
:class:`PartialExplainer` keeps an attribution method's parameters until the model it explains
(the concept decoder) exists.
"""

import keras
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import to_tensor
from xplique.commons.model_surgery import find_layer, is_graph_model, run_model
from xplique.commons.validation import ensure_positive_int


class LatentExtractor:
    """A model cut in two: `input_to_latent_model` `g` then `latent_to_logit_model` `h`, both
    run by compiled kernels, `batch_size` inputs per pass.

    Parameters
    ----------
    model
        The whole model (kept for reference; `h(g(x))` must equal it).
    input_to_latent_model, latent_to_logit_model
        Keras models (or TensorFlow callables) `g` and `h`; latents are channels last.
    latent_data_class
        Accepted for compatibility with Xplique; latents are plain tensors here.
    output_formatter
        Optional function applied to the outputs of `h` by :meth:`latent_to_logit`.
    batch_size
        Inputs per pass (also the explainers' `batch_size` in Holistic CRAFT).
    """

    def __init__(self, model, input_to_latent_model, latent_to_logit_model,
                 latent_data_class=None, output_formatter=None, batch_size=8):
        self.model = model
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.latent_data_class = latent_data_class
        self.output_formatter = output_formatter
        self.batch_size = ensure_positive_int(batch_size, "batch_size")
        self._encode = Compiled(self.latent_graph)
        self._decode = Compiled(self.logit_graph)

    # graph functions on channels-last tensors (overridden by the torch extractor)
    def latent_graph(self, images: tf.Tensor) -> tf.Tensor:
        """`g(images)` in graph code: channels-last images to channels-last latents."""
        return tf.cast(run_model(self.input_to_latent_model, images), tf.float32)

    def logit_graph(self, latents: tf.Tensor) -> tf.Tensor:
        """`h(latents)` in graph code: channels-last latents to outputs."""
        return tf.cast(run_model(self.latent_to_logit_model, latents), tf.float32)

    def channels_last_images(self, inputs) -> tf.Tensor:
        """The user's images as a channels-last float32 tensor (identity for Keras)."""
        return to_tensor(inputs, "inputs")

    def latents_of_images(self, images: tf.Tensor) -> tf.Tensor:
        """Latents of channels-last images, in batches."""
        return batched(self._encode, [images], self.batch_size)

    def input_to_latent(self, inputs) -> tf.Tensor:
        """Latents `g(inputs)`."""
        return self.latents_of_images(self.channels_last_images(inputs))

    def latent_to_logit(self, latents) -> tf.Tensor:
        """Outputs `h(latents)` (formatted by `output_formatter` when given)."""
        outputs = batched(self._decode, [to_tensor(latents, "latents")], self.batch_size)
        return outputs if self.output_formatter is None else self.output_formatter(outputs)

    def __call__(self, inputs) -> tf.Tensor:
        return self.latent_to_logit(self.input_to_latent(inputs))


class LayeredModelExtractorBuilder:
    """Builds a :class:`LatentExtractor` by cutting a single-input, single-output functional
    Keras model after one of its layers."""

    @staticmethod
    def build(model, split_layer, batch_size=1) -> LatentExtractor:
        """Cut `model` after `split_layer` (index in `model.layers`, or name).

        Raises a ValueError when the model is not a single-input, single-output graph model,
        or when the layer is not a true cut (some path from the input to the output avoids
        it, e.g. a residual connection around it).
        """
        if not is_graph_model(model) or len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                "`model` must be a single-input, single-output Sequential or functional Keras "
                f"model. Received: {type(model).__name__}"
            )
        layer = find_layer(model, split_layer)
        latent = layer.output
        g = keras.Model(model.inputs[0], latent, name=f"{model.name}_to_{layer.name}")
        try:
            h = keras.Model(latent, model.outputs[0], name=f"{layer.name}_to_output")
        except ValueError as error:
            raise ValueError(
                f"`split_layer` must cut the graph: every path from the input to the output "
                f"must go through layer {layer.name!r}, and one does not ({error})"
            ) from None
        return LatentExtractor(model, g, h, batch_size=batch_size)


class PartialExplainer:
    """An attribution method and its parameters, built once the model and batch size are known.

    Parameters
    ----------
    explainer_class
        An attribution method class, e.g. `GradientInput` (or a factory with the same call).
    **kwargs
        Its parameters, except `model` and `batch_size` (given when it is built).
    """

    def __init__(self, explainer_class, **kwargs):
        for name in ("model", "batch_size"):
            if name in kwargs:
                raise ValueError(
                    f"`{name}` is given when the explainer is built: remove it from the "
                    f"PartialExplainer arguments. Received: {name}={kwargs[name]!r}"
                )
        if not callable(explainer_class):
            raise TypeError(
                "`explainer_class` must be an attribution method class. Received: "
                f"{explainer_class!r}"
            )
        self.explainer_class = explainer_class
        self.kwargs = kwargs

    def __call__(self, model, batch_size):
        return self.explainer_class(model, batch_size=batch_size, **self.kwargs)

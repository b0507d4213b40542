"""Holistic CRAFT for PyTorch models (torch is imported when an extractor is built).

The two torch parts run inside TensorFlow kernels through
:class:`xplique.wrappers.TorchWrapper` (forward and gradients from torch), so the
factorization, the explainers and the batching are those of the TensorFlow variant. Images are
channels first `(N, C, H, W)` for the user, latents `(n, c, h, w)` for the modules; both are
moved to channels last inside.
"""

import tensorflow as tf

from xplique.commons.data import to_tensor
from xplique.concepts.craft.holistic import HolisticCraft
from xplique.concepts.craft.latent_extractor import LatentExtractor
from xplique.concepts.craft.torch import _torch, check_torch_parts, resolve_device


def _channels_first_to_last(tensor: tf.Tensor) -> tf.Tensor:
    rank = tensor.shape.rank
    return tf.transpose(tensor, [0] + list(range(2, rank)) + [1]) if rank >= 3 else tensor


class TorchLatentExtractor(LatentExtractor):
    """A PyTorch model cut in two `nn.Module`s, `g` then `h`.

    Parameters
    ----------
    model
        The whole module (kept for reference).
    input_to_latent_model
        `g`: images `(n, C, H, W)` to non-negative latents `(n, c, h, w)` (or `(n, c)`).
    latent_to_logit_model
        `h`: latents to outputs, `(n, n_classes)` or detection boxes
        `(n, nb_boxes, 4 + 1 + n_classes)`.
    latent_data_class, output_formatter, batch_size
        See :class:`~.latent_extractor.LatentExtractor`.
    device
        Where the modules run (None: the device of `g`'s parameters, else "cpu"). The modules
        are used where they are and must be in evaluation mode (`.eval()`).
    """

    def __init__(self, model, input_to_latent_model, latent_to_logit_model,
                 latent_data_class=None, output_formatter=None, batch_size=8, device=None):
        # pylint: disable=import-outside-toplevel
        from xplique.wrappers import TorchWrapper

        check_torch_parts(input_to_latent_model, latent_to_logit_model)
        if device is None:
            parameter = next(iter(input_to_latent_model.parameters()), None)
            device = parameter.device if parameter is not None else "cpu"
        self.device = resolve_device(device)
        self.torch_input_to_latent_model = input_to_latent_model
        self.torch_latent_to_logit_model = latent_to_logit_model
        super().__init__(model, TorchWrapper(input_to_latent_model, self.device, True),
                         TorchWrapper(latent_to_logit_model, self.device, True),
                         latent_data_class, output_formatter, batch_size)

    def latent_graph(self, images):
        return _channels_first_to_last(super().latent_graph(images))

    def channels_last_images(self, inputs) -> tf.Tensor:
        torch = _torch()
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        images = to_tensor(inputs, "inputs")
        return _channels_first_to_last(images)


class HolisticCraftTorch(HolisticCraft):
    """Holistic CRAFT for PyTorch models (see :class:`~.holistic.HolisticCraft` for the
    method, its parameters and notes). Images are channels first `(N, C, H, W)` (numpy arrays
    or torch tensors); coefficients, explanations and maps are channels last, as with
    TensorFlow (`(N, h, w, R)`), and :meth:`make_concept_localizer` takes channels-last images,
    as in Xplique.

    Parameters
    ----------
    latent_extractor
        A :class:`TorchLatentExtractor`.
    number_of_concepts
        Number of concepts `R`.
    device
        None: the extractor's device (the modules run there).
    factorizer
        See :class:`~.holistic.HolisticCraft`.
    """

    _extractor_class = TorchLatentExtractor

    def __init__(self, latent_extractor, number_of_concepts=20, device=None, factorizer=None):
        super().__init__(latent_extractor, number_of_concepts, device, factorizer)
        if device is None:
            self.device = latent_extractor.device

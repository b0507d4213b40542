"""CRAFT for PyTorch models (torch is imported when a CraftTorch is built)."""

import warnings

import numpy as np

from xplique.commons.batching import chunk_ranges
from xplique.concepts.craft.base import BaseCraft


def _torch():
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError as error:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "CraftTorch needs PyTorch: install it with `pip install \"xplique[torch]\"`"
        ) from error
    return torch


def resolve_device(device):
    """`device` as a torch device; "cuda" falls back to the CPU (with a warning) when no GPU
    is available."""
    torch = _torch()
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA is not available: CRAFT runs on the CPU", RuntimeWarning,
                      stacklevel=3)
        device = torch.device("cpu")
    return device


def check_torch_parts(input_to_latent_model, latent_to_logit_model):
    """Raise a TypeError unless both parts of the model are `torch.nn.Module`s."""
    torch = _torch()
    for module, name in ((input_to_latent_model, "input_to_latent_model"),
                         (latent_to_logit_model, "latent_to_logit_model")):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"`{name}` must be a torch.nn.Module. Received: {type(module).__name__}"
            )


class CraftTorch(BaseCraft):
    """CRAFT on a PyTorch model cut in two `nn.Module`s (see :class:`~.base.BaseCraft` for
    the method, its parameters and notes). Images are channels first `(N, C, H, W)`, numpy
    arrays or torch tensors; spatial latents `(n, c, h, w)` are handled channels last
    (`U` is `(N, h, w, R)`, as with TensorFlow).

    Parameters
    ----------
    input_to_latent_model
        `nn.Module` `g`: images to non-negative latents.
    latent_to_logit_model
        `nn.Module` `h`: latents to logits.
    number_of_concepts, batch_size, patch_size
        See :class:`~.base.BaseCraft`.
    device
        Where the modules run ("cuda", the default, falls back to "cpu" without a GPU). The
        modules are used where they are: move them to `device` yourself.

    Notes
    -----
    The modules run in `torch.no_grad()`; their training mode is left as it is (call
    `.eval()` first). Crops are cut with `Tensor.unfold` and resized bicubically, in the order
    `tf.image.extract_patches` uses.
    """

    def __init__(self, input_to_latent_model, latent_to_logit_model, number_of_concepts=20,
                 batch_size=64, patch_size=64, device="cuda"):
        check_torch_parts(input_to_latent_model, latent_to_logit_model)
        self._setup(input_to_latent_model, latent_to_logit_model, number_of_concepts,
                    batch_size, patch_size)
        self.device = resolve_device(device)

    def _tensor(self, inputs, name="inputs"):
        torch = _torch()
        if isinstance(inputs, torch.Tensor):
            return inputs.detach().to(self.device, torch.float32)
        try:
            array = np.asarray(inputs, np.float32)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"`{name}` must be a numpy array or a torch tensor of numbers. Received: "
                f"{type(inputs).__name__}"
            ) from error
        return torch.from_numpy(array).to(self.device)

    def _crops(self, inputs):
        torch = _torch()
        images = self._tensor(inputs)
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(
                "`inputs` must be a non-empty batch of images (N, C, H, W). Received: "
                f"inputs.shape={tuple(images.shape)}"
            )
        height, width = int(images.shape[2]), int(images.shape[3])
        if min(height, width) < self.patch_size:
            raise ValueError(
                f"`patch_size` must not exceed the image size {(height, width)}. Received: "
                f"patch_size={self.patch_size}"
            )
        size, stride = self.patch_size, int(0.8 * self.patch_size)
        crops = []
        with torch.no_grad():
            for start, stop in chunk_ranges(len(images), self.batch_size):
                patches = images[start:stop].unfold(2, size, stride).unfold(3, size, stride)
                channels = patches.shape[1]
                patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels, size, size)
                crops.append(torch.nn.functional.interpolate(
                    patches, size=(height, width), mode="bicubic", align_corners=False))
        return torch.cat(crops).cpu().numpy()

    def _latents(self, inputs):
        torch = _torch()
        images = self._tensor(inputs)
        outputs = []
        with torch.no_grad():
            for start, stop in chunk_ranges(len(images), self.batch_size):
                outputs.append(self.input_to_latent_model(images[start:stop]).float())
        return self._channels_last_latents(torch.cat(outputs))

    def _channels_last_latents(self, activations):
        torch = _torch()
        if isinstance(activations, torch.Tensor):
            activations = activations.detach().cpu().numpy()
        activations = np.asarray(activations, np.float32)
        return np.moveaxis(activations, 1, -1) if activations.ndim == 4 else activations

    def _design_scores(self, coeffs_u, masks, bank, class_id):
        torch = _torch()
        coeffs = torch.from_numpy(coeffs_u).to(self.device)
        masks_t = torch.from_numpy(masks).to(self.device)
        bank_t = torch.from_numpy(bank).to(self.device)
        nb_masks = len(masks)
        scores = []
        with torch.no_grad():
            for start, stop in chunk_ranges(len(coeffs) * nb_masks, self.batch_size):
                pairs = torch.arange(start, stop, device=self.device)
                mask = masks_t[pairs % nb_masks]
                mask = mask.reshape((len(mask),) + (1,) * (coeffs.ndim - 2) + (-1,))
                latents = (coeffs[pairs // nb_masks] * mask) @ bank_t
                if latents.ndim == 4:  # channels last -> channels first
                    latents = latents.permute(0, 3, 1, 2)
                scores.append(self.latent_to_logit_model(latents)[:, class_id].float())
        return torch.cat(scores).reshape(len(coeffs), nb_masks).cpu().numpy()

    def _images_channels_last(self, images):
        torch = _torch()
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        images = np.asarray(images, np.float32)
        return np.moveaxis(images, -3, -1)

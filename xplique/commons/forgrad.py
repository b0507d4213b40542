"""FORGrad: low-pass filtering of explanation maps in the Fourier domain."""

import numpy as np
import tensorflow as tf

from xplique.commons.data import to_tensor
from xplique.commons.validation import ensure_float


def forgrad(explanations, sigma: float = 15) -> tf.Tensor:
    """Remove the high spatial frequencies of explanation maps.

    Each map is transformed with a 2-D FFT, every frequency farther than `sigma` from the
    zero frequency is set to zero (an ideal circular low-pass filter) and the map is
    transformed back: `phi_sigma = F^-1(F(phi) * 1[|freq| <= sigma])`.

    Ref. Muzellec et al., Gradient strikes back: How filtering out high frequencies improves
    explanations (2023; ICML title: Saliency strikes back), https://arxiv.org/abs/2307.09591

    Parameters
    ----------
    explanations
        Maps `(N, H, W)` or `(N, H, W, C)` (each channel filtered on its own), any H and W.
    sigma
        Cut-off radius > 0, in cycles per map side (frequency index units), so that a map is
        filtered alike at any resolution. Every frequency is kept once
        `sigma >= sqrt((H/2)^2 + (W/2)^2)`; smaller values smooth more. The paper finds about
        15 best for 224x224 ImageNet models.

    Returns
    -------
    The filtered maps, float32, with the shape of `explanations`.

    Notes
    -----
    The filter is linear, as in the paper: signed maps stay signed and an ideal filter can
    ring slightly below zero. Xplique instead takes absolute values before and after
    filtering, averages channels and returns (N, H, W) or (N, H, W, 1) depending on whether
    the size is even; here the rank and the channels are always kept, odd and even sizes and
    non-square maps alike. Apply `tf.abs` yourself for magnitudes.

    Examples
    --------
    >>> import numpy as np
    >>> forgrad(np.ones((2, 7, 9, 1), "float32"), sigma=3).shape
    TensorShape([2, 7, 9, 1])
    """
    sigma = ensure_float(sigma, "sigma")
    if not sigma > 0:
        raise ValueError(f"`sigma` must be > 0. Received: sigma={sigma!r}")
    maps = to_tensor(explanations, "explanations")
    if maps.shape.rank not in (3, 4):
        raise ValueError(
            "`explanations` must be maps (N, H, W) or (N, H, W, C). Received: "
            f"explanations.shape={tuple(maps.shape)}"
        )
    channels_last = maps.shape.rank == 4
    if channels_last:
        maps = tf.transpose(maps, (0, 3, 1, 2))  # the FFT runs over the last two axes
    height, width = int(maps.shape[-2]), int(maps.shape[-1])
    spectrum = tf.signal.rfft2d(maps)
    filtered = tf.signal.irfft2d(spectrum * _low_pass(height, width, sigma), [height, width])
    if channels_last:
        filtered = tf.transpose(filtered, (0, 2, 3, 1))
    return filtered


def _low_pass(height: int, width: int, sigma: float) -> tf.Tensor:
    """Circular mask over the `rfft2d` frequencies of an (height, width) map."""
    rows = np.fft.fftfreq(height) * height
    columns = np.fft.rfftfreq(width) * width
    radius = np.hypot(rows[:, None], columns[None, :])
    return tf.constant((radius <= sigma).astype(np.complex64))

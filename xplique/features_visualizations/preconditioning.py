"""Image parameterisations: Fourier (frequency-scaled) buffers, ImageNet colour decorrelation
and MaCo's magnitude/phase images.

Ref. Olah et al., Feature Visualization (2017), https://distill.pub/2017/feature-visualization/
Ref. Fel et al., Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
Optimization (2023), https://arxiv.org/abs/2306.06805

Notes
-----
Xplique builds the Fourier buffer of a square of side max(H, W) and crops it; here the buffer
has the image's own spectrum shape `(H, W // 2 + 1)`, so non-square images need no crop.
"""

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

#: Square root of the colour covariance of ImageNet (Olah et al., 2017): a whitened
#: parameter times this matrix has natural-image colour correlations.
_COLOR_CORRELATION_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR_CORRELATION = _COLOR_CORRELATION_SQRT / np.max(
    np.linalg.norm(_COLOR_CORRELATION_SQRT, axis=0)
)


def _generator(seed: Optional[int]) -> tf.random.Generator:
    if seed is None:
        return tf.random.Generator.from_non_deterministic_state()
    return tf.random.Generator.from_seed(int(seed))


def spectrum_frequencies(height: int, width: int) -> np.ndarray:
    """Radial frequency (cycles per pixel) of each entry of a `rfft2d` of an H x W image."""
    freq_y = np.fft.fftfreq(height)[:, None]
    freq_x = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(freq_x**2 + freq_y**2)


def get_fft_scale(width: int, height: int, decay_power: float = 1.0) -> tf.Tensor:
    """Scale of each Fourier coefficient: `1 / max(f, 1 / max(W, H)) ** decay * sqrt(W H)`.

    Multiplying a white buffer by it gives a spectrum decaying like natural images (a
    `1/f^decay` amplitude), so that gradient steps change low frequencies first.

    Returns a float32 tensor of shape `(height, width // 2 + 1)`.
    """
    frequencies = spectrum_frequencies(height, width)
    scale = 1.0 / np.maximum(frequencies, 1.0 / max(width, height)) ** decay_power
    scale *= np.sqrt(width * height)
    return tf.constant(scale, tf.float32)


def fft_image(shape: Sequence[int], std: float = 0.01, *, seed: Optional[int] = None
              ) -> tf.Tensor:
    """A random Fourier buffer for `shape = (N, H, W, C)` images: real and imaginary parts
    ~ N(0, std), shape `(2, N, C, H, W // 2 + 1)`."""
    batch, height, width, channels = (int(v) for v in shape)
    return _generator(seed).normal((2, batch, channels, height, width // 2 + 1), stddev=std)


def recorrelate_colors(images: tf.Tensor) -> tf.Tensor:
    """Give decorrelated 3-channel images ImageNet's colour correlations (identity for other
    channel counts)."""
    if images.shape[-1] != 3:
        return images
    return tf.tensordot(images, tf.constant(COLOR_CORRELATION.T), axes=[[-1], [0]])


def recorrelate_colors_channels_first(planes: tf.Tensor) -> tf.Tensor:
    """:func:`recorrelate_colors` of channels-first images `(N, C, H, W)`: one product of the
    colour matrix with each image's `(C, H W)` planes."""
    if planes.shape[1] != 3:
        return planes
    shape = tf.shape(planes)
    mixed = tf.matmul(tf.constant(COLOR_CORRELATION), tf.reshape(planes, (shape[0], 3, -1)))
    return tf.reshape(mixed, shape)


def fft_to_rgb(shape: Sequence[int], buffer: tf.Tensor, fft_scale: tf.Tensor) -> tf.Tensor:
    """Images `(N, H, W, C)` from a Fourier buffer of :func:`fft_image`: the spectrum
    `complex(buffer) * fft_scale` back to pixels (inverse real FFT), divided by 4."""
    return tf.transpose(fft_to_channels_first(shape, buffer, fft_scale), [0, 2, 3, 1])


def fft_to_channels_first(shape: Sequence[int], buffer: tf.Tensor, fft_scale: tf.Tensor
                          ) -> tf.Tensor:
    """The images of :func:`fft_to_rgb`, channels first: `(N, C, H, W)` (the inverse FFT's
    own layout)."""
    height, width = int(shape[1]), int(shape[2])
    real, imaginary = tf.unstack(buffer, 2, axis=0)  # its gradient is a stack, not 2 scatters
    spectrum = tf.complex(real, imaginary) * tf.cast(fft_scale, tf.complex64)
    return tf.signal.irfft2d(spectrum, fft_length=[height, width]) / 4.0  # (N, C, H, W)


def init_maco_buffer(image_shape: Sequence[int], std_deviation: float = 1.0, *,
                     seed: Optional[int] = None) -> tf.Tensor:
    """A random MaCo phase for an image of shape `(H, W, C)`: N(0, std) values of shape
    `(C, H, W // 2 + 1)`."""
    height, width, channels = (int(v) for v in image_shape)
    return _generator(seed).normal((channels, height, width // 2 + 1), stddev=std_deviation)


def _hermitian(phase: tf.Tensor, width: int) -> tf.Tensor:
    """Make the phase of the first column (and of the last one for an even width) odd along
    the rows, so that the spectrum is exactly the `rfft2d` of a real image: its magnitude is
    then the magnitude of the image's spectrum, with nothing lost by the inverse transform."""

    def odd(column):
        mirrored = tf.roll(tf.reverse(column, axis=[-1]), shift=1, axis=-1)  # index -k mod H
        return 0.5 * (column - mirrored)

    first = odd(phase[..., 0])[..., None]
    if width % 2 == 0 and phase.shape[-1] > 1:
        last = odd(phase[..., -1])[..., None]
        return tf.concat([first, phase[..., 1:-1], last], axis=-1)
    return tf.concat([first, phase[..., 1:]], axis=-1)


def maco_spatial_image(magnitude: tf.Tensor, phase: tf.Tensor, width: Optional[int] = None
                       ) -> tf.Tensor:
    """The real image `(H, W, C)` whose spectrum is `magnitude * exp(i * phase)`, before any
    normalisation. The phase is standardised, and made odd where a real image's spectrum is
    Hermitian, so the image's `rfft2d` magnitude is exactly `magnitude`. `width` defaults to
    the even width `2 * (magnitude.shape[-1] - 1)`."""
    height = int(magnitude.shape[-2])
    width = 2 * (int(magnitude.shape[-1]) - 1) if width is None else int(width)
    phase = phase - tf.reduce_mean(phase)
    phase = phase / (tf.math.reduce_std(phase) + 1e-5)
    phase = _hermitian(phase, width)
    magnitude = tf.cast(magnitude, tf.float32)
    spectrum = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
    image = tf.signal.irfft2d(spectrum, fft_length=[height, width])  # (C, H, W)
    return tf.transpose(image, [1, 2, 0])


def maco_image_parametrization(magnitude: tf.Tensor, phase: tf.Tensor,
                               values_range: Tuple[float, float], width: Optional[int] = None
                               ) -> tf.Tensor:
    """MaCo's image `(H, W, C)` from a fixed `magnitude` and an optimised `phase` (both
    `(C, H, W // 2 + 1)`): inverse FFT, standardisation, colour recorrelation, sigmoid, then
    scaled to `values_range`. `width` as in :func:`maco_spatial_image`."""
    image = maco_spatial_image(magnitude, phase, width)
    image = (image - tf.reduce_mean(image)) / (tf.math.reduce_std(image) + 1e-5)
    image = tf.nn.sigmoid(recorrelate_colors(image))
    low, high = float(values_range[0]), float(values_range[1])
    return image * (high - low) + low

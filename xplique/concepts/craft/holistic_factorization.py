"""Holistic CRAFT's factorization of the latents at every position: each position of each image
is one row of `A (N * h * w, c)`, factorized as `A ~ U W` by the factorizer (scikit-learn's NMF
unless the user gives one), on the host.

The factorizer runs under single-threaded BLAS
(:func:`~xplique.commons.threads.single_threaded_blas`): idle BLAS threads would spin on the
cores of the kernels that follow. NMF needs non-negative latents; negative ones raise a
ValueError.
"""

from typing import Tuple

import numpy as np

from xplique.commons.threads import single_threaded_blas


def new_factorizer(factorizer, number_of_concepts: int):
    """`factorizer` itself, or when it is None scikit-learn's
    `NMF(number_of_concepts, alpha_W=1e-2, max_iter=200)`."""
    if factorizer is not None:
        return factorizer
    from sklearn.decomposition import NMF  # pylint: disable=import-outside-toplevel

    return NMF(n_components=number_of_concepts, alpha_W=1e-2, max_iter=200, random_state=0)


def _flat_latents(latents: np.ndarray) -> np.ndarray:
    """The latents `(N, ..., c)` as rows `(N * ..., c)`, or a ValueError if one is negative."""
    smallest = float(latents.min()) if latents.size else 0.0
    if smallest < 0.0:
        raise ValueError(
            "The latent extractor must output non-negative latents (NMF needs them), e.g. "
            f"after a ReLU. Received a minimum of {smallest:.4g}"
        )
    return latents.reshape(-1, latents.shape[-1])


def factorize(factorizer, latents: np.ndarray,
              number_of_concepts: int) -> Tuple[np.ndarray, np.ndarray]:
    """Fit `factorizer` on the latents `(N, ..., c)` at every position.

    Returns
    -------
    `(coeffs_u, concept_bank_w)`: coefficients `(N, ..., R)` and concepts `(R, c)` (float32).
    """
    flat = _flat_latents(latents)
    with single_threaded_blas():
        coeffs = np.asarray(factorizer.fit_transform(flat), np.float32)
    bank = np.asarray(factorizer.components_, np.float32)
    return coeffs.reshape(latents.shape[:-1] + (number_of_concepts,)), bank


def coefficients(factorizer, latents: np.ndarray, number_of_concepts: int) -> np.ndarray:
    """Coefficients `(N, ..., R)` (float32) of the latents `(N, ..., c)` on the concepts of a
    fitted `factorizer`, by its `transform`."""
    flat = _flat_latents(latents)
    with single_threaded_blas():
        coeffs = np.asarray(factorizer.transform(flat), np.float32)
    return coeffs.reshape(latents.shape[:-1] + (number_of_concepts,))

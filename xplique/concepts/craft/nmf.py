"""Non-negative matrix factorization on the device, by multiplicative updates.

Same objective as scikit-learn's `NMF(n_components, alpha_W=alpha_W, l1_ratio=0)` with the
Frobenius loss: for data `X (n, f)`, coefficients `U (n, k) >= 0` and components
`W (k, f) >= 0`,

`0.5 ||X - U W||^2 + 0.5 alpha_W f ||U||^2 + 0.5 alpha_W n ||W||^2`,

(`alpha_H = "same"`: the components get the same alpha, scaled by `n`). Each iteration is one
Lee & Seung step per factor with the L2 penalty in the denominator:
`U <- U (X W^T) / (U W W^T + alpha_W f U)`, `W <- W (U^T X) / (U^T U W + alpha_W n W)`.

Ref. Lee & Seung, Algorithms for Non-negative Matrix Factorization (2001),
https://papers.nips.cc/paper/1861-algorithms-for-non-negative-matrix-factorization
"""

import numpy as np
import tensorflow as tf

from xplique.commons.validation import ensure_float, ensure_positive_int

EPSILON = 1e-10


@tf.function(reduce_retracing=True)
def _factorize(data, coeffs, components, penalty_u, penalty_w, max_iter, tol, update_w):
    """Multiplicative updates until the relative change of the objective is below `tol`."""

    def objective(u, w):
        residual = data - tf.matmul(u, w)
        return 0.5 * (tf.reduce_sum(tf.square(residual)) + penalty_u * tf.reduce_sum(
            tf.square(u)) + penalty_w * tf.reduce_sum(tf.square(w)))

    def step(i, u, w, previous, change):
        u = u * tf.matmul(data, w, transpose_b=True) / (
            tf.matmul(u, tf.matmul(w, w, transpose_b=True)) + penalty_u * u + EPSILON)
        if update_w:
            w = w * tf.matmul(u, data, transpose_a=True) / (
                tf.matmul(tf.matmul(u, u, transpose_a=True), w) + penalty_w * w + EPSILON)
        current = objective(u, w)
        return i + 1, u, w, current, tf.abs(previous - current) / tf.maximum(previous, EPSILON)

    start = objective(coeffs, components)
    _, coeffs, components, _, _ = tf.while_loop(
        lambda i, u, w, previous, change: tf.logical_and(i < max_iter, change > tol),
        step, (tf.constant(0), coeffs, components, start, tf.constant(np.inf, data.dtype)),
    )
    return coeffs, components


class TfNMF:
    """NMF with scikit-learn's interface (`fit_transform`, `transform`, `components_`,
    `reconstruction_err_`), fitted by multiplicative updates on the device (float32).

    Parameters
    ----------
    n_components
        Number of components `k`.
    alpha_W
        L2 regularisation, as scikit-learn's `alpha_W` with `l1_ratio=0` and `alpha_H="same"`.
    max_iter
        Maximum number of iterations of `fit_transform` and `transform`.
    tol
        Stop when the objective changes by less than this fraction between two iterations.
    seed
        Seed of the random initialisation.

    Notes
    -----
    The initialisation is random, scaled as scikit-learn's "random" one
    (`sqrt(mean(X) / k) |N(0, 1)|`), so the factors differ from scikit-learn's (which starts
    from an SVD); the objective reached is compared with scikit-learn's in the tests.
    `transform` keeps the components fixed and updates the coefficients only.
    """

    def __init__(self, n_components, alpha_W=1e-2, max_iter=500, tol=1e-5, seed=0):
        self.n_components = ensure_positive_int(n_components, "n_components")
        self.alpha_W = ensure_float(alpha_W, "alpha_W", minimum=0.0)
        self.max_iter = ensure_positive_int(max_iter, "max_iter")
        self.tol = ensure_float(tol, "tol", minimum=0.0)
        self.seed = seed
        self.components_ = None
        self.reconstruction_err_ = None

    def _initial(self, data, rows):
        scale = np.sqrt(max(float(tf.reduce_mean(data)), EPSILON) / self.n_components)
        generator = tf.random.Generator.from_seed(self.seed)
        return scale * tf.abs(generator.normal((rows, self.n_components)))

    def fit_transform(self, data) -> np.ndarray:
        """Factorize `data (n, f)`; return the coefficients `(n, k)`."""
        data = tf.constant(np.asarray(data, np.float32))
        rows, features = int(data.shape[0]), int(data.shape[1])
        coeffs = self._initial(data, rows + features)
        coeffs, components = coeffs[:rows], tf.transpose(coeffs[rows:])
        coeffs, components = _factorize(
            data, coeffs, components, tf.constant(self.alpha_W * features, tf.float32),
            tf.constant(self.alpha_W * rows, tf.float32), tf.constant(self.max_iter),
            tf.constant(self.tol, tf.float32), True,
        )
        self.components_ = components.numpy()
        self.reconstruction_err_ = float(tf.norm(data - tf.matmul(coeffs, components)))
        return coeffs.numpy()

    def transform(self, data) -> np.ndarray:
        """Coefficients `(n, k)` of `data (n, f)` on the fitted components."""
        if self.components_ is None:
            raise ValueError("TfNMF is not fitted: call fit_transform first")
        data = tf.constant(np.asarray(data, np.float32))
        components = tf.constant(self.components_)
        coeffs = self._initial(data, int(data.shape[0]))
        coeffs, _ = _factorize(
            data, coeffs, components,
            tf.constant(self.alpha_W * int(data.shape[1]), tf.float32), tf.constant(0.0),
            tf.constant(self.max_iter), tf.constant(self.tol, tf.float32), False,
        )
        return coeffs.numpy()

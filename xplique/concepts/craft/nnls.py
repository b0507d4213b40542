"""Concept coefficients of latents on a fixed concept bank, solved in TensorFlow graph code
(for the concept localizer of Holistic CRAFT, which runs inside compiled explainers).

For latents `A (n, c)` and a bank `W (R, c)`, the coefficients solve the non-negative ridge
problem that scikit-learn's `NMF.transform` (Frobenius loss, `l1_ratio=0`) solves,

`min_{U >= 0} 0.5 ||A - U W||^2 + 0.5 penalty ||U||^2`,   `penalty = alpha_W c`,

by accelerated projected gradient (FISTA) with adaptive restart: the gradient is
`U G - A W^T` with `G = W W^T + penalty I` (an `R x R` matrix computed once), the step
`1 / ||G||_2`, the start `relu(A W^T) / diag(G)`.

Ref. Beck & Teboulle, A Fast Iterative Shrinkage-Thresholding Algorithm for Linear Inverse
Problems (2009), https://doi.org/10.1137/080716542 ; O'Donoghue & Candes, Adaptive Restart
for Accelerated Gradient Schemes (2015), https://arxiv.org/abs/1204.3982
"""

import tensorflow as tf


def nonnegative_coefficients(latents: tf.Tensor, bank: tf.Tensor, penalty: float,
                             max_iter: int = 300, tol: float = 1e-6) -> tf.Tensor:
    """Coefficients `U (n, R) >= 0` of `latents (n, c)` on `bank (R, c)` (see the module
    docstring); stops after `max_iter` steps or when the relative change of `U` is below
    `tol`. Graph code: call it inside a `tf.function`."""
    latents = tf.cast(latents, tf.float32)
    bank = tf.cast(bank, tf.float32)
    gram = tf.matmul(bank, bank, transpose_b=True)
    gram += penalty * tf.eye(tf.shape(bank)[0], dtype=tf.float32)
    projected = tf.matmul(latents, bank, transpose_b=True)
    step = 1.0 / tf.reduce_max(tf.linalg.eigvalsh(gram))
    start = tf.nn.relu(projected) / tf.linalg.diag_part(gram)

    def body(i, coeffs, momentum, speed, change):
        gradient = tf.matmul(momentum, gram) - projected
        updated = tf.nn.relu(momentum - step * gradient)
        # restart the momentum when the step goes against the gradient
        restart = tf.reduce_sum(gradient * (updated - coeffs)) > 0.0
        next_speed = tf.where(restart, 1.0, 0.5 * (1.0 + tf.sqrt(1.0 + 4.0 * speed * speed)))
        extrapolated = updated + ((speed - 1.0) / next_speed) * (updated - coeffs)
        momentum = tf.where(restart, updated, extrapolated)
        change = tf.norm(updated - coeffs) / tf.maximum(tf.norm(updated), 1e-12)
        return i + 1, updated, momentum, next_speed, change

    _, coeffs, _, _, _ = tf.while_loop(
        lambda i, coeffs, momentum, speed, change: tf.logical_and(i < max_iter, change > tol),
        body, (tf.constant(0), start, start, tf.constant(1.0), tf.constant(float("inf"))),
    )
    return coeffs

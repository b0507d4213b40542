"""The compiled gradient-ascent steps of :func:`~xplique.features_visualizations.optimize`.

:func:`make_step` builds one `tf.function` that runs a given number of ascent steps
(parameter -> image -> random transformations -> resize to the model input -> model ->
objective minus regularizers -> gradient -> optimizer update) in a `tf.while_loop`;
:func:`run_steps` calls it in as few chunks as the snapshots and the progress bar allow. A
plain Keras `Adam` is applied as TensorFlow's fused kernel (:func:`fused_adam`). The
arguments, the image parameterisation and the public API live in
:mod:`xplique.features_visualizations.optim`.
"""

from typing import Callable, Optional

import keras
import tensorflow as tf
from tqdm.auto import tqdm

from xplique.features_visualizations.transformations import apply


def fused_adam(optimizer, variable) -> Optional[Callable]:
    """`update(gradient)`: one descent step of a plain Keras `Adam` on `variable` as TensorFlow's
    fused `ResourceApplyAdam` kernel (on the optimizer's own moments and iteration count),
    or None when `optimizer` is anything else (a subclass, AMSGrad, weight decay, clipping,
    EMA, loss scaling, gradient accumulation or a learning-rate schedule), which then runs
    its own `apply_gradients`.

    The same update as Keras 3's Adam (`m += (g - m)(1 - b1)`, `v += (g^2 - v)(1 - b2)`,
    `x -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)`), in one kernel instead of
    about 25 small operations per step."""
    if type(optimizer) is not keras.optimizers.Adam or not isinstance(variable, tf.Variable):
        return None
    config = optimizer.get_config()
    plain = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
             "clipvalue": None, "use_ema": False, "loss_scale_factor": None,
             "gradient_accumulation_steps": None, "amsgrad": False}
    if any(config.get(key, value) != value for key, value in plain.items()):
        return None
    if not isinstance(config.get("learning_rate"), float):
        return None
    momentums = getattr(optimizer, "_momentums", None)
    velocities = getattr(optimizer, "_velocities", None)
    if not momentums or not velocities or len(momentums) != 1 or len(velocities) != 1:
        return None
    first, second = momentums[0], velocities[0]
    beta_1, beta_2 = float(config["beta_1"]), float(config["beta_2"])
    epsilon = float(config["epsilon"])

    def update(gradient):
        dtype = variable.dtype
        step = tf.cast(optimizer.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=first.value.handle, v=second.value.handle,
            beta1_power=tf.pow(tf.constant(beta_1, dtype), step),
            beta2_power=tf.pow(tf.constant(beta_2, dtype), step),
            lr=tf.cast(optimizer.learning_rate, dtype), beta1=tf.constant(beta_1, dtype),
            beta2=tf.constant(beta_2, dtype), epsilon=tf.constant(epsilon, dtype),
            grad=gradient)
        optimizer.iterations.assign_add(1)

    return update


def make_step(model, objective_function, render, transform, regularizers, optimizer,
              variable, rng, model_size) -> Callable:
    """The compiled ascent steps: `steps(count)` runs `count` steps in one call (a
    `tf.while_loop`, so one trace serves every count, and the Python dispatch of a call is
    paid once per `count` steps, not per step); it returns the per-image loss of the last."""

    planar = getattr(render, "channels_first", None)
    folded = getattr(transform, "channels_first", None)
    descend = fused_adam(optimizer, variable)

    def one_step():
        with tf.GradientTape() as tape:
            if planar is not None and folded is not None:
                # channels first from the inverse FFT to the row and column products, one
                # transposition at the end (the same values, fewer operations)
                planes = planar(variable)
                views = folded(planes, rng)
                images = tf.transpose(planes, [0, 2, 3, 1]) if regularizers else None
            else:
                images = render(variable)
                views = apply(transform, images, rng) if transform is not None else images
            if tuple(views.shape[1:3]) != tuple(model_size):
                views = tf.image.resize(views, model_size)
            loss = objective_function(model(views, training=False))
            for regularizer in regularizers:
                loss = loss - regularizer(images)
            total = tf.reduce_sum(loss)
        gradient = tape.gradient(total, variable)
        if descend is not None:
            descend(-gradient)
        else:
            optimizer.apply_gradients([(-gradient, variable)])
        return loss

    def steps(count):
        # the first step runs outside the loop: it gives the loss its shape and dtype
        loss = one_step()

        def body(index, _):
            return index + 1, one_step()

        # one iteration at a time: each step reads the parameter and the optimizer's state
        # that the previous one wrote
        _, loss = tf.while_loop(lambda index, _: index < count, body,
                                (tf.constant(1, tf.int32), loss), parallel_iterations=1)
        return loss

    # no tensor-dependent Python control flow: the loop is an explicit tf.while_loop
    return tf.function(steps, input_signature=[tf.TensorSpec((), tf.int32)], autograph=False)


def run_steps(steps: Callable, nb_steps: int, verbose: bool, desc: str,
              save_every: Optional[int] = None, snapshot: Optional[Callable] = None) -> list:
    """Run `nb_steps` steps with the compiled `steps(count)`, in as few calls as the snapshots
    (every `save_every` steps, taken by `snapshot()`) and the progress bar allow."""
    snapshots = []
    chunk = nb_steps if not verbose else max(1, nb_steps // 64)
    if save_every is not None:
        chunk = min(chunk, save_every)
    bar = tqdm(total=nb_steps, desc=desc, disable=not verbose, leave=False)
    done = 0
    while done < nb_steps:
        count = min(chunk, nb_steps - done)
        if save_every is not None:
            count = min(count, save_every - done % save_every)
        steps(tf.constant(count, tf.int32))
        done += count
        bar.update(count)
        if save_every is not None and done % save_every == 0:
            snapshots.append(snapshot())
    bar.close()
    return snapshots

"""Randomization sanity checks: an explanation should change when what it explains does."""

import abc
import inspect
import math

import numpy as np
import tensorflow as tf

from xplique.commons.batching import batched
from xplique.commons.compiled import Compiled
from xplique.commons.data import to_tensor
from xplique.commons.distribution import Rows
from xplique.commons.model_surgery import clone_graph_model, is_graph_model
from xplique.commons.random import pair_uniform
from xplique.commons.validation import ensure_seed
from xplique.metrics.base import ExplainerMetric, explain_with, flat_maps, progress_bar
from xplique.metrics.similarity import spearman_rows, ssim_maps


def _as_2d_maps(explanations) -> tf.Tensor:
    """Explanations as 2-D maps `(N, A, B)`: images channel-averaged, time series as they are,
    tabular rows as `(N, W, 1)` columns."""
    explanations = to_tensor(explanations, "explanations")
    rank = explanations.shape.rank
    if rank == 4:
        return tf.reduce_mean(explanations, axis=-1)
    if rank == 3:
        return explanations
    return explanations[..., None]


class RandomLogitMetric(ExplainerMetric):
    """Random logit test: the explanation of the true class against the explanation of a class
    drawn uniformly among the others, compared with SSIM and averaged over the inputs.

    **Lower is better** (an explanation that depends on the explained class).

    Ref. Sixt et al., When Explanations Lie: Why Many Modified BP Attributions Fail (2020),
    https://arxiv.org/abs/1912.09818

    Parameters
    ----------
    model
        The classifier (its number of outputs sets the classes to draw from).
    inputs, targets
        Inputs and their true classes (one-hot or integer indices; required).
    batch_size
        Map pairs compared per compiled SSIM call.
    activation
        Accepted for compatibility with Xplique; the explanations come from the explainer.
    seed
        Seed of the draw of the other classes (one per input, whatever `batch_size`).

    Notes
    -----
    Images are channel-averaged, time series compared as `(T, W)` maps and tabular rows as
    `(W, 1)` columns. The SSIM window shrinks for maps smaller than 11; the data range of a
    pair is that of both maps, and two constant equal maps score 1.
    """

    def __init__(self, model, inputs, targets, batch_size=64, activation=None, seed=42, *,
                 strategy=None):
        if targets is None:
            raise ValueError("`targets` is required by RandomLogitMetric (the true classes)")
        self._setup(model, inputs, targets, batch_size, activation=activation, strategy=strategy)
        self.seed = ensure_seed(seed)
        nb_classes = int(self.targets.shape[-1])
        if nb_classes < 2:
            raise ValueError(f"RandomLogitMetric needs a model with >= 2 classes. Received "
                             f"{nb_classes}")
        true_class = tf.argmax(self.targets, axis=-1, output_type=tf.int32)
        draw = pair_uniform(self.seed, 0, self.inputs.shape[0], ())
        shift = 1 + tf.cast(tf.floor(draw * (nb_classes - 1)), tf.int32)
        other = (true_class + tf.minimum(shift, nb_classes - 1)) % nb_classes
        self.random_targets = tf.one_hot(other, nb_classes, dtype=tf.float32)
        self._ssim = Compiled(ssim_maps, split=Rows())

    def evaluate(self, explainer) -> float:
        """Mean SSIM between the true-class and random-class explanations."""
        true_maps = _as_2d_maps(explain_with(explainer, self.inputs, self.targets))
        random_maps = _as_2d_maps(explain_with(explainer, self.inputs, self.random_targets))
        values = batched(self._ssim, [true_maps, random_maps], self.batch_size)
        return float(np.mean(values.numpy()))


class ModelRandomizationStrategy(abc.ABC):
    """Base of the model randomization strategies (Xplique's interface): `randomize(model)`
    re-draws parameters of `model` in place and returns it.

    :class:`ModelRandomizationMetric` accepts any subclass (it only ever hands it a copy of the
    model); a `randomize` that also takes a `seed` keyword receives the metric's seed.
    """

    @abc.abstractmethod
    def randomize(self, model, seed=None):
        """Randomize the parameters of `model` in place and return it."""

    def __call__(self, model, seed=None):
        """Alias of :meth:`randomize`."""
        return _randomized(self, model, seed)


def _randomized(strategy, model, seed):
    """Apply a strategy: `strategy.randomize(model[, seed])` or `strategy(model, seed)`."""
    randomize = getattr(strategy, "randomize", None)
    if callable(randomize):
        parameters = inspect.signature(randomize).parameters
        if "seed" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return randomize(model, seed=seed)
        return randomize(model)
    return strategy(model, seed)


def _weighted_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


class ProgressiveLayerRandomization(ModelRandomizationStrategy):
    """Cascading randomization: re-draw the weights of the model's layers one after the other,
    from the output down (or from the input up), until a stopping layer.

    Each weight tensor is replaced by uniform values with the tensor's own mean and standard
    deviation, so the scale is kept and what was learned is lost.

    Ref. Adebayo et al., Sanity Checks for Saliency Maps (2018),
    https://arxiv.org/abs/1810.03292

    Parameters
    ----------
    stop_layer
        Where to stop, in the traversal order (see `reverse`). An int: the number of
        weight-bearing layers to randomize (Xplique's documented meaning). A float in (0, 1]:
        the fraction of the weight-bearing layers to randomize (rounded up). A layer name:
        randomize every weight-bearing layer met before reaching that layer (a name the model
        does not have raises a ValueError saying it was not found).
    reverse
        True randomizes from the output layer down (top-down, as in the paper), False from the
        input up.

    Notes
    -----
    A tensor with no spread (a zero bias, a constant scale) would be redrawn as itself; it is
    drawn instead with the spread of the largest-spread tensor of its layer (or unit spread when
    the whole layer is constant), around its own value, so every randomized layer changes.
    """

    def __init__(self, stop_layer=0.25, reverse=True):
        if isinstance(stop_layer, bool) or not isinstance(stop_layer, (str, int, float)):
            raise TypeError("`stop_layer` must be a count of layers (int), a fraction in (0, 1] "
                            f"or a layer name. Received: stop_layer={stop_layer!r}")
        if isinstance(stop_layer, float) and not 0.0 < stop_layer <= 1.0:
            raise ValueError("`stop_layer` as a fraction must lie in (0, 1]. Received: "
                             f"stop_layer={stop_layer!r}")
        if isinstance(stop_layer, int) and stop_layer < 0:
            raise ValueError("`stop_layer` as a count of layers must be >= 0. Received: "
                             f"stop_layer={stop_layer!r}")
        self.stop_layer = stop_layer
        self.reverse = bool(reverse)

    def layers_to_randomize(self, model) -> list:
        """The layers of `model` this strategy re-draws, in the order it visits them."""
        layers = list(model.layers)
        if self.reverse:
            layers = layers[::-1]
        weighted = [layer for layer in layers if layer.weights]
        if isinstance(self.stop_layer, float):
            return weighted[:math.ceil(self.stop_layer * len(weighted))]
        if isinstance(self.stop_layer, int):
            return weighted[:self.stop_layer]
        names = [layer.name for layer in layers]
        if self.stop_layer not in names:
            raise ValueError(
                f"`stop_layer`: layer {self.stop_layer!r} not found in model "
                f"{getattr(model, 'name', '')!r}. Layers: {', '.join(map(repr, names[:30]))}"
            )
        chosen = []
        for layer in layers:
            if layer.name == self.stop_layer:
                break
            if layer.weights:
                chosen.append(layer)
        return chosen

    def randomize(self, model, seed=None):
        """Re-draw the weights of the chosen layers of `model` **in place**; return `model`.

        Apply it to a copy (as :class:`ModelRandomizationMetric` does), never to a model you
        want to keep.
        """
        rng = np.random.default_rng(ensure_seed(seed))
        for layer in self.layers_to_randomize(model):
            values = [np.asarray(variable.numpy(), dtype=np.float64) for variable in layer.weights]
            spreads = [float(value.std()) for value in values]
            fallback = max(spreads) if max(spreads) > 0 else 1.0
            for variable, value, spread in zip(layer.weights, values, spreads):
                half_width = math.sqrt(3.0) * (spread if spread > 0 else fallback)
                drawn = rng.uniform(value.mean() - half_width, value.mean() + half_width,
                                    value.shape)
                variable.assign(drawn.astype(variable.dtype))
        return model


class ModelRandomizationMetric(ExplainerMetric):
    """Model randomization test: the Spearman correlation between the explanations of the
    trained model and those of a copy with randomized weights, averaged over the inputs.

    **Lower is better** (an explanation that depends on what the model learned).

    Ref. Adebayo et al., Sanity Checks for Saliency Maps (2018),
    https://arxiv.org/abs/1810.03292

    Parameters
    ----------
    model, inputs, targets
        The model, inputs and targets (one-hot or integer indices).
    randomization_strategy
        A :class:`ModelRandomizationStrategy` (its `randomize(model)`) or a callable
        `strategy(model, seed) -> model`, randomizing a model in place (it only ever gets a
        copy). Default: `ProgressiveLayerRandomization(stop_layer=0.25)`.
    batch_size
        Kept for compatibility; the explainers batch their own model passes.
    activation
        "softmax", "sigmoid" or None, used only to pick the top class when `targets` is None.
    seed
        Seed of the randomized weights.

    Notes
    -----
    The explainer's model is cloned (`keras.models.clone_model` and `set_weights`), the clone
    is randomized, and a **new explainer of the same class** is built on it with the
    explainer's constructor parameters, read back from its attributes of the same names
    (every explainer of :mod:`xplique.attributions` keeps them). The user's model and explainer
    are never touched, so nothing needs undoing. Swapping `explainer.model` would not work
    here: explainers compile kernels that close over their model. Explainers that do not keep
    their parameters, or subclassed models (which Keras cannot clone), raise a ValueError.
    Image maps are channel-averaged before the rank correlation (average ranks for ties).
    """

    def __init__(self, model, inputs, targets, randomization_strategy=None, batch_size=64,
                 activation=None, seed=42, *, verbose=False, strategy=None):
        self._setup(model, inputs, targets, batch_size, activation=activation, strategy=strategy)
        if randomization_strategy is None:
            randomization_strategy = ProgressiveLayerRandomization(stop_layer=0.25)
        if not (callable(randomization_strategy)
                or callable(getattr(randomization_strategy, "randomize", None))):
            raise TypeError("`randomization_strategy` must be a ModelRandomizationStrategy or a "
                            f"callable strategy(model, seed). Received: {randomization_strategy!r}")
        self.randomization_strategy = randomization_strategy
        self.seed = ensure_seed(seed)
        self.verbose = bool(verbose)

    def evaluate(self, explainer) -> float:
        """Mean Spearman correlation between the original and the randomized explanations."""
        with progress_bar(2, self.verbose, "ModelRandomization") as bar:
            original = flat_maps(explain_with(explainer, self.inputs, self.targets))
            bar.update(1)
            randomized_model = _randomized(self.randomization_strategy, _clone(explainer),
                                           self.seed)
            randomized = flat_maps(explain_with(rebuild_explainer(explainer, randomized_model),
                                                self.inputs, self.targets))
            bar.update(1)
        return float(np.mean(spearman_rows(original, randomized).numpy()))


def _clone(explainer):
    model = getattr(explainer, "model", None)
    if model is None:
        raise ValueError("ModelRandomizationMetric needs an explainer with a `model` attribute. "
                         f"Received: {type(explainer).__name__}")
    if not is_graph_model(model):
        raise ValueError(
            "ModelRandomizationMetric randomizes a copy of the model, and Keras can only copy "
            f"Sequential and functional models. Received a {type(model).__name__}"
        )
    return clone_graph_model(model)


def rebuild_explainer(explainer, model):
    """A new explainer of `explainer`'s class on `model`, with the same constructor parameters
    (read back from the explainer's attributes of the same names)."""
    cls = type(explainer)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if not parameters or parameters[0].name != "model":
        raise ValueError(f"{cls.__name__} does not take `model` as its first parameter, so it "
                         "cannot be rebuilt on a randomized model")
    kwargs, missing = {}, []
    for parameter in parameters[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(explainer, parameter.name):
            kwargs[parameter.name] = getattr(explainer, parameter.name)
        else:
            missing.append(parameter.name)
    if missing:
        raise ValueError(
            f"Cannot rebuild {cls.__name__} on a randomized model: it does not keep its "
            f"constructor parameters {missing} as attributes of the same names"
        )
    return cls(model, **kwargs)

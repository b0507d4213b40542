"""Composites: which LRP rule each layer gets.

A :class:`Composite` maps layers to rules by name, by position (the first weighted layer, the
one nearest the input) and by type, in that order of priority, with a default for the weighted
layers left over. The weight-free linear layers (average pools, Add, Average) get the ZeroRule
(a proportional split) unless the composite names them.

The presets follow the recommendations of Montavon et al. (2019) and Kohlbrenner et al.
(2020): Epsilon on dense layers (few, large fan-ins), Gamma, ZPlus or AlphaBeta on convolutions
(positive evidence, less noise), and a rule for the input space on the first layer (ZBox for
bounded pixels, Flat for no assumption at all).

Ref. Kohlbrenner et al., Towards Best Practice in Explaining Neural Network Decisions with LRP
(2020), https://arxiv.org/abs/1910.09840
"""

from typing import Dict, Optional, Tuple, Union

import keras

from xplique.attributions.lrp.rules import (
    AlphaBetaRule,
    EpsilonRule,
    FlatRule,
    GammaRule,
    Rule,
    ZBoxRule,
    ZeroRule,
    ZPlusRule,
)

#: The convolution layers, as one key of `Composite(by_type=...)`.
CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)
#: The dense layers.
DENSE = (keras.layers.Dense,)

LayerTypes = Union[type, Tuple[type, ...]]


class Composite:
    """Rules by layer name, first layer, layer type and default.

    Parameters
    ----------
    by_type
        `{layer class or tuple of classes: rule}`, matched with `isinstance` in the order given
        (e.g. `{CONVOLUTIONS: GammaRule(), DENSE: EpsilonRule()}`).
    by_name
        `{layer name: rule}`, which wins over everything else.
    first
        Rule of the first weighted layer(s): the Dense or convolution nearest the input.
    default
        Rule of the weighted layers nothing else matches (ZeroRule() when None).

    Examples
    --------
    >>> import keras
    >>> composite = Composite(by_type={keras.layers.Dense: EpsilonRule(0.1)},
    ...                       by_name={"logits": ZeroRule()}, first=FlatRule())
    >>> composite.rule_for(keras.layers.Dense(3, name="logits"), first=False, weighted=True)
    ZeroRule()
    """

    def __init__(self, by_type: Optional[Dict[LayerTypes, Rule]] = None,
                 by_name: Optional[Dict[str, Rule]] = None, first: Optional[Rule] = None,
                 default: Optional[Rule] = None):
        self.by_type = _checked(by_type, "by_type", _is_layer_types, "a layer class or tuple")
        self.by_name = _checked(by_name, "by_name", lambda k: isinstance(k, str), "a layer name")
        self.first = _rule(first, "first")
        self.default = ZeroRule() if default is None else _rule(default, "default")

    def rule_for(self, layer, first: bool, weighted: bool) -> Rule:
        """The rule of `layer`; `first` says whether it is a first weighted layer, `weighted`
        whether it has weights (weight-free layers fall back to ZeroRule, not `default`)."""
        if layer.name in self.by_name:
            return self.by_name[layer.name]
        if first and self.first is not None:
            return self.first
        for types, rule in self.by_type.items():
            if isinstance(layer, types):
                return rule
        return self.default if weighted else ZeroRule()

    def __repr__(self) -> str:
        def types(key):
            names = [cls.__name__ for cls in (key if isinstance(key, tuple) else (key,))]
            return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
        by_type = "{" + ", ".join(f"{types(k)}: {v!r}" for k, v in self.by_type.items()) + "}"
        return (f"Composite(by_type={by_type}, by_name={self.by_name!r}, first={self.first!r}, "
                f"default={self.default!r})")


def _rule(value, name):
    if value is not None and not isinstance(value, Rule):
        raise TypeError(f"`{name}` must be an LRP rule (xplique.attributions.lrp.Rule). "
                        f"Received: {name}={value!r}")
    return value


def _is_layer_types(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return bool(keys) and all(isinstance(k, type) and issubclass(k, keras.layers.Layer)
                              for k in keys)


def _checked(mapping, name, key_ok, expected):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise TypeError(f"`{name}` must be a dict. Received: {name}={mapping!r}")
    for key, value in mapping.items():
        if not key_ok(key):
            raise TypeError(f"The keys of `{name}` must be {expected}. Received: {key!r}")
        _rule(value, f"{name}[{key!r}]")
    return dict(mapping)


def ensure_composite(composite) -> Composite:
    """A Composite from LRP's `composite`: None (ZeroRule everywhere), a rule (on every weighted
    layer) or a Composite."""
    if composite is None:
        return Composite()
    if isinstance(composite, Rule):
        return Composite(default=composite)
    if isinstance(composite, Composite):
        return composite
    raise TypeError("`composite` must be None, an LRP rule or a Composite. Received: "
                    f"composite={composite!r}")


def EpsilonGammaBox(low, high, epsilon: float = 1e-6,  # noqa: N802
                    gamma: float = 0.25) -> Composite:
    """ZBox(low, high) on the first layer, Gamma on convolutions, Epsilon on dense layers: the
    composite recommended for image classifiers with pixels in `[low, high]`."""
    return Composite(by_type={CONVOLUTIONS: GammaRule(gamma), DENSE: EpsilonRule(epsilon)},
                     first=ZBoxRule(low, high))


def EpsilonPlus(epsilon: float = 1e-6) -> Composite:  # noqa: N802
    """ZPlus on convolutions, Epsilon on dense layers."""
    return Composite(by_type={CONVOLUTIONS: ZPlusRule(), DENSE: EpsilonRule(epsilon)})


def EpsilonAlpha2Beta1(epsilon: float = 1e-6) -> Composite:  # noqa: N802
    """AlphaBeta(2, 1) on convolutions, Epsilon on dense layers."""
    return Composite(by_type={CONVOLUTIONS: AlphaBetaRule(2.0, 1.0),
                              DENSE: EpsilonRule(epsilon)})


def EpsilonPlusFlat(epsilon: float = 1e-6) -> Composite:  # noqa: N802
    """EpsilonPlus with the Flat rule on the first weighted layer."""
    return Composite(by_type={CONVOLUTIONS: ZPlusRule(), DENSE: EpsilonRule(epsilon)},
                     first=FlatRule())


def EpsilonAlpha2Beta1Flat(epsilon: float = 1e-6) -> Composite:  # noqa: N802
    """EpsilonAlpha2Beta1 with the Flat rule on the first weighted layer."""
    return Composite(by_type={CONVOLUTIONS: AlphaBetaRule(2.0, 1.0),
                              DENSE: EpsilonRule(epsilon)}, first=FlatRule())

"""The registry of benchmarked methods: one :class:`Method` entry per explainer.

Adding a method is one entry in :data:`METHODS`::

    Method(
        "Rise", Rise,
        params=dict(nb_samples=4000, grid_size=7),   # constructor parameters (not batch_size)
        quick=dict(nb_samples=500),                  # overrides for `run.py --quick`
        evaluations=lambda n, p: Cost(forward=n * p["nb_samples"]),
        samples_param="nb_samples",                  # memory check: 50 vs 400 of this parameter
    )

`evaluations(n, params)` returns the model evaluations the method needs for `n` inputs (with
integer targets given, so no extra pass finds the top class): `forward` counts forward-only
evaluations (black-box methods), `gradient` counts forward+backward evaluations of the summed
target score with respect to the input (gradient methods; gradient-based CAM methods also
count here, a backward pass to a layer costs at most that). A pass to an inner layer (feature
maps) counts as a whole forward evaluation, which bounds its cost. The floor of the method is
`forward * t_forward + gradient * t_gradient`, with `t_*` the bare model's cost per evaluation at
the method's `batch_size`. Count what the paper's algorithm needs, not what our code happens to
do, so that wasted passes show up as a ratio above 1.

When the count depends on the model (e.g. ScoreCAM's one pass per channel of `conv_layer`),
give `evaluations(n, params, model)`: a callable with three parameters also receives the Keras
model (see :meth:`Method.cost`; :func:`channels` reads a layer's channel count).

Model-dependent parameters use the layer names every benchmark model defines (see
`models.py`): `"last_conv"` (last convolution) and `"logits"`. A method that cannot run on a
model (CAM needs a global-average-pooling + Dense head) raises ValueError or TypeError when
built; `run.py` reports it as "n/a (reason)" for that model.
"""

import dataclasses
import inspect
from typing import Callable, Dict, Optional

from xplique.attributions import (
    CAM,
    FEM,
    LRP,
    TTA,
    DeconvNet,
    DeepLift,
    FORGrad,
    FullGradient,
    GradCAM,
    GradCAMPP,
    GradientInput,
    GuidedBackprop,
    HsicAttributionMethod,
    IntegratedGradients,
    KernelShap,
    LayerCAM,
    Lime,
    Occlusion,
    Rise,
    Saliency,
    ScoreCAM,
    SmoothGrad,
    SobolAttributionMethod,
    SquareGrad,
    VarGrad,
)
from xplique.attributions.lrp import EpsilonGammaBox, EpsilonPlus


@dataclasses.dataclass(frozen=True)
class Cost:
    """Model evaluations: `forward` (forward only) and `gradient` (forward + backward)."""

    forward: int = 0
    gradient: int = 0

    @property
    def total(self) -> int:
        return self.forward + self.gradient

    @property
    def kind(self) -> str:
        kinds = [name for name in ("forward", "gradient") if getattr(self, name)]
        return "+".join({"forward": "fwd", "gradient": "fwd+bwd"}[k] for k in kinds) or "none"


@dataclasses.dataclass(frozen=True)
class Method:
    """One benchmarked explainer.

    Attributes
    ----------
    name
        Name shown in the table (the class name by default).
    factory
        Called as `factory(model, batch_size=..., **params)` to build the explainer.
    evaluations
        `evaluations(n, params) -> Cost` for `n` inputs and the constructor `params`, or
        `evaluations(n, params, model) -> Cost` when the count depends on the model (called
        through :meth:`cost`).
    params
        Constructor parameters of the full benchmark (everything except `model`, `batch_size`).
    quick
        Overrides of `params` for `run.py --quick`.
    batch_size
        Model evaluations per pass, passed to the constructor (the method's default).
    samples_param
        Name of the parameter that sets the samples drawn per input (`steps`, `nb_samples`),
        checked at 50 and 400 by the memory benchmark; None when the method draws none.
    seeded
        Whether the constructor takes the keyword-only `seed` (the benchmark passes `seed=0`).
    """

    name: str
    factory: Callable
    evaluations: Callable[..., Cost]
    params: Dict = dataclasses.field(default_factory=dict)
    quick: Dict = dataclasses.field(default_factory=dict)
    batch_size: int = 32
    samples_param: Optional[str] = None
    seeded: bool = False

    def parameters(self, quick: bool = False, **overrides) -> Dict:
        """Constructor keyword arguments (including `batch_size` and `seed`)."""
        params = dict(self.params)
        if quick:
            params.update(self.quick)
        params.update(overrides)
        params["batch_size"] = self.batch_size
        if self.seeded:
            params["seed"] = 0
        return params

    def build(self, model, quick: bool = False, **overrides):
        return self.factory(model, **self.parameters(quick, **overrides))

    def cost(self, n: int, params: Dict, model) -> Cost:
        """The evaluations for `n` inputs: `evaluations(n, params, model)` when `evaluations`
        takes three parameters, else `evaluations(n, params)`."""
        if _takes_model(self.evaluations):
            return self.evaluations(n, params, model)
        return self.evaluations(n, params)


def _takes_model(fn: Callable) -> bool:
    parameters = inspect.signature(fn).parameters.values()
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def channels(model, layer: str) -> int:
    """The channel count (last dimension) of the output of `model`'s layer named `layer`."""
    return int(model.get_layer(layer).output.shape[-1])


def _gradients(per_input: Optional[str] = None) -> Callable[[int, Dict], Cost]:
    """Cost of `n` gradient evaluations, times `params[per_input]` when given."""
    return lambda n, params: Cost(gradient=n * (params[per_input] if per_input else 1))


def _occlusion(model, batch_size, patches_per_side):
    """Occlusion with `patches_per_side^2` non-overlapping patches tiling the model's images
    (the image size is read from the model, so one entry fits every benchmark model)."""
    height, width = (int(d) for d in model.inputs[0].shape[1:3])
    patch = (height // patches_per_side, width // patches_per_side)
    return Occlusion(model, batch_size, patch_size=patch, patch_stride=patch)


METHODS = [
    Method("Saliency", Saliency, _gradients()),
    Method("GradientInput", GradientInput, _gradients(), batch_size=64),
    Method(
        "IntegratedGradients", IntegratedGradients, _gradients("steps"),
        params=dict(steps=50), samples_param="steps",
    ),
    Method(
        "SmoothGrad", SmoothGrad, _gradients("nb_samples"),
        params=dict(nb_samples=50, noise=0.2), samples_param="nb_samples", seeded=True,
    ),
    Method(
        "SquareGrad", SquareGrad, _gradients("nb_samples"),
        params=dict(nb_samples=50, noise=0.2), samples_param="nb_samples", seeded=True,
    ),
    Method(
        "VarGrad", VarGrad, _gradients("nb_samples"),
        params=dict(nb_samples=50, noise=0.2), samples_param="nb_samples", seeded=True,
    ),
    Method("DeconvNet", DeconvNet, _gradients()),
    Method("GuidedBackprop", GuidedBackprop, _gradients()),
    Method("GradCAM", GradCAM, _gradients(), params=dict(conv_layer="last_conv")),
    Method("GradCAMPP", GradCAMPP, _gradients(), params=dict(conv_layer="last_conv")),
    Method("LayerCAM", LayerCAM, _gradients(), params=dict(conv_layer="last_conv")),
    Method("FEM", FEM, lambda n, params: Cost(forward=n), params=dict(conv_layer="last_conv")),
    # The feature maps (one pass to `conv_layer` per input), then one forward pass per input and
    # channel on the input masked by that channel's map. The paper also scores a baseline input,
    # but that score is the same for every channel and cancels in the softmax over channels.
    Method(
        "ScoreCAM", ScoreCAM,
        lambda n, params, model: Cost(
            forward=n * (channels(model, params["conv_layer"]) + 1)),
        params=dict(conv_layer="last_conv"),
    ),
    # One pass to the feature maps per input; the weights are read from the Dense layer. Needs a
    # GlobalAveragePooling2D + Dense head: n/a on small_cnn (Flatten).
    Method("CAM", CAM, lambda n, params: Cost(forward=n)),
    Method("FullGradient", FullGradient, _gradients()),
    Method(
        "FORGradSaliency",
        lambda model, batch_size, sigma: FORGrad(Saliency(model, batch_size=batch_size), sigma),
        _gradients(), params=dict(sigma=15),
    ),
    Method(
        "TTASaliency",
        lambda model, batch_size, scales, flips: TTA(
            Saliency(model, batch_size=batch_size), scales, flips),
        lambda n, params: Cost(gradient=n * len(params["scales"]) * (2 if params["flips"] else 1)),
        params=dict(scales=(1.0, 0.8, 1.2), flips=True),
    ),
    Method(
        "Occlusion", lambda model, batch_size, patches_per_side: _occlusion(
            model, batch_size, patches_per_side),
        lambda n, params: Cost(forward=n * (params["patches_per_side"] ** 2 + 1)),
        params=dict(patches_per_side=8), quick=dict(patches_per_side=4),
    ),
    Method(
        "Rise", Rise, lambda n, params: Cost(forward=n * params["nb_samples"]),
        params=dict(nb_samples=4000, grid_size=7), quick=dict(nb_samples=500),
        samples_param="nb_samples", seeded=True,
    ),
    Method(
        "Lime", Lime, lambda n, params: Cost(forward=n * params["nb_samples"]),
        params=dict(nb_samples=150), quick=dict(nb_samples=50), batch_size=64,
        samples_param="nb_samples", seeded=True,
    ),
    Method(
        "KernelShap", KernelShap, lambda n, params: Cost(forward=n * params["nb_samples"]),
        params=dict(nb_samples=800), quick=dict(nb_samples=100), batch_size=64,
        samples_param="nb_samples", seeded=True,
    ),
    Method(
        "SobolAttributionMethod", SobolAttributionMethod,
        lambda n, params: Cost(
            forward=n * params["nb_design"] * (params["grid_size"] ** 2 + 2)),
        params=dict(grid_size=8, nb_design=32), quick=dict(grid_size=4, nb_design=16),
        batch_size=256,
    ),
    Method(
        "HsicAttributionMethod", HsicAttributionMethod,
        lambda n, params: Cost(forward=n * params["nb_design"]),
        params=dict(grid_size=8, nb_design=500), quick=dict(nb_design=100), batch_size=256,
        samples_param="nb_design",
    ),
    # LRP and DeepLIFT: one forward and one backward pass per input (DeepLIFT's reference pass is
    # one input per batch). The Gamma, ZPlus and ZBox rules also run their modified layers: one
    # more forward convolution per Gamma or ZPlus layer, which the floor does not count (see
    # benchmarks/lrp_profile.py for interleaved, CPU-time measurements).
    Method("LRP", LRP, _gradients()),
    Method(
        "LRPEpsilonPlus",
        lambda model, batch_size: LRP(model, EpsilonPlus(), batch_size=batch_size),
        _gradients(),
    ),
    Method(
        "LRPEpsilonGammaBox",
        lambda model, batch_size: LRP(model, EpsilonGammaBox(0.0, 1.0), batch_size=batch_size),
        _gradients(),
    ),
    Method("DeepLift", DeepLift, _gradients()),
]


def select(names: Optional[str]):
    """The registry entries named in a comma-separated list (all when `names` is empty)."""
    if not names:
        return list(METHODS)
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    by_name = {method.name.lower(): method for method in METHODS}
    unknown = [name for name in wanted if name.lower() not in by_name]
    if unknown:
        raise SystemExit(
            f"Unknown method(s) {unknown}. Registered: {', '.join(m.name for m in METHODS)}"
        )
    return [by_name[name.lower()] for name in wanted]

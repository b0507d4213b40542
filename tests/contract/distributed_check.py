"""Every method and metric on 2 replicas equals itself on one device: run in a subprocess.

`python -m tests.contract.distributed_check OUT.json` splits the CPU into two logical devices
(before TensorFlow starts; importing this module changes nothing), then runs every subject of
:data:`tests.contract.subjects.SUBJECTS` and the metrics and meta-explainers outside it, once on
one device and once with `strategy=MirroredStrategy(2 devices)` (and once more under
`strategy.scope()` with `strategy=None`). It writes, per subject, the largest difference between
the runs and where the model's layers ran while the strategy was active: `replica` (inside
`strategy.run`) or `cross` (on one device, which the contract forbids: the whole `batch_size`
chunk would run on one replica). Every public method and metric must take the keyword-only
`strategy` and appear among the subjects, so a module that lands later cannot skip the check.

`batch_size=3` on 5 inputs gives uneven chunks (3 then 2, split 1 + 2 and 1 + 1 rows), and a
few subjects also run with `batch_size=1`, where one replica's share is empty.
"""

import inspect
import json
import sys

import keras
import numpy as np
import tensorflow as tf

from tests.conftest import (
    NEEDS_KERAS_LAYERS,
    StaticBatchModule,
    make_inputs,
    make_model,
    make_targets,
)
from tests.contract.registry import CASES
from tests.contract.subjects import SUBJECTS, Subject, attribution_subject, home_modality
from xplique import attributions, metrics
from xplique.attributions import TTA, FORGrad, GradCAM, Saliency, SmoothGrad
from xplique.commons import distribution
from xplique.commons.compiled import Compiled
from xplique.metrics import (
    Complexity,
    MeGe,
    PointingGame,
    RelevanceMass,
    Sparseness,
)

N = 5
BATCH_SIZE = 3
EMPTY_SHARES = ("Saliency", "SmoothGrad", "Rise", "GradCAM", "MuFidelity")  # also batch_size=1

_CALLS = {"replica": 0, "cross": 0, "replica_traces": 0}
_WHERE = []
_layer_call = keras.layers.Layer.__call__


def _in_replica() -> bool:
    context = tf.distribute.get_replica_context()
    return context is not None and context.num_replicas_in_sync > 1


_replica = distribution._replica  # pylint: disable=protected-access


def _counting_replica():
    """Each replica's trace of a kernel (evidence for the subjects without Keras layers)."""
    _CALLS["replica_traces"] += 1
    return _replica()




def _recording_call(self, *args, **kwargs):
    """Layer calls while a strategy is active, by context (the contract's evidence). Replica
    functions run in threads of their own, where the strategy is the replica context's."""
    if isinstance(args[0] if args else None, keras.KerasTensor):
        pass  # building a Keras model (symbolic), not evaluating one
    elif _in_replica():
        _CALLS["replica"] += 1
    elif distribution.active_strategy() is not None:
        _CALLS["cross"] += 1
        _WHERE.append(f"{type(self).__name__}:{self.name}")
    return _layer_call(self, *args, **kwargs)




def _map_metric(metric_cls, **params) -> Subject:
    def make(model, x, y, batch_size=64, **options):
        rng = np.random.default_rng(1)
        phi = rng.normal(size=np.shape(x)[:-1]).astype("float32")
        if metric_cls in (PointingGame, RelevanceMass):
            built = metric_cls(rng.uniform(size=phi.shape) > 0.6, batch_size=batch_size,
                               **params, **options)
        else:
            built = metric_cls(batch_size=batch_size, **params, **options)
        return built, lambda: built(phi)

    return Subject(metric_cls.__name__, make, ("images",))


def _mege() -> Subject:
    def make(model, x, y, batch_size=64, **options):
        built = MeGe(lambda *data: model, x, y, batch_size=batch_size, k_splits=5, **options)
        return built, lambda: built(Saliency, {"batch_size": batch_size})

    return Subject("MeGe", make, ("images",))


def _meta(meta_cls, **params) -> Subject:
    def make(model, x, y, batch_size=64, **options):
        inner = SmoothGrad(model, batch_size=batch_size, nb_samples=4, seed=3)
        built = meta_cls(inner, **params, **options)
        return built, lambda: built(x, y)

    return Subject(meta_cls.__name__, make, ("images",))


class _UndistributedSaliency(Saliency):
    """A control: its kernel has no `split`, so the check must see its layers run outside the
    replicas (proof that the detector detects)."""

    def __init__(self, model, batch_size=32, **options):
        super().__init__(model, batch_size=batch_size, **options)
        self._gradients = Compiled(self._gradients._fn)  # pylint: disable=protected-access


def _control() -> Subject:
    def make(model, x, y, batch_size=64, **options):
        built = _UndistributedSaliency(model, batch_size=batch_size, **options)
        return built, lambda: built(x, y)

    return Subject("control", make, ("tabular",))


def _every_target(cls, request, **params) -> Subject:
    """`targets="all"` or `top_k`: the K maps of each input from one forward pass per chunk."""
    def make(model, x, y, batch_size=64, **options):
        built = cls(model, batch_size=batch_size, **params, **options)
        if request == "all":
            return built, lambda: built(x, "all")
        return built, lambda: built(x, top_k=2)

    modality = "tabular" if cls is not GradCAM else "images"
    return Subject(f"{request}-{cls.__name__}", make, (modality,))


def _static_batch(case) -> Subject:
    """The method on a model that reads its static batch size (each replica's share must
    keep a static shape)."""
    subject = attribution_subject(case)
    return Subject(f"static-{subject.name}", subject.make, subject.modalities,
                   lambda home: StaticBatchModule((case.model or make_model)(home)))


EXTRA = [_map_metric(Complexity), _map_metric(Sparseness), _map_metric(PointingGame),
         _map_metric(RelevanceMass), _mege(), _meta(TTA, scales=(1.0, 0.5)), _meta(FORGrad),
         _every_target(Saliency, "all"), _every_target(SmoothGrad, "top_k", nb_samples=3, seed=1),
         _every_target(GradCAM, "top_k")] + [
    _static_batch(case) for case in CASES if case.cls.__name__ not in NEEDS_KERAS_LAYERS]


def _as_array(result):
    if isinstance(result, dict):
        return np.asarray([result[key] for key in sorted(result)], dtype="float64")
    if isinstance(result, tuple):
        return np.asarray([np.asarray(part, dtype="float64") for part in result])
    return np.asarray(result, dtype="float64")


def _run(subject, model, x, y, batch_size, **options):
    _, run = subject.make(model, x, y, batch_size, **options)
    with np.errstate(all="ignore"):
        return _as_array(run())


def check(subject, strategy) -> dict:
    """The subject's runs on one device and on `strategy`, compared."""
    home = home_modality(subject.modalities)
    model = subject.model(home)
    x, y = make_inputs(home, N), make_targets(N)
    report = {"max_difference": 0.0, "scale": 0.0}
    for batch_size in (BATCH_SIZE, 1) if subject.name in EMPTY_SHARES else (BATCH_SIZE,):
        single = _run(subject, model, x, y, batch_size)
        _CALLS.update(replica=0, cross=0, replica_traces=0)
        _WHERE.clear()
        runs = [_run(subject, model, x, y, batch_size, strategy=strategy)]
        with strategy.scope():
            runs.append(_run(subject, model, x, y, batch_size))
        for run in runs:
            if run.shape != single.shape:
                report["max_difference"] = float("inf")
                continue
            both = np.isfinite(single) & np.isfinite(run)
            same_nan = bool(np.array_equal(np.isnan(single), np.isnan(run)))
            gap = float(np.max(np.abs(single - run)[both], initial=0.0))
            report["max_difference"] = max(report["max_difference"],
                                           gap if same_nan else float("inf"))
        report["scale"] = max(report["scale"], float(np.max(np.abs(single[np.isfinite(single)]),
                                                            initial=0.0)))
        report.update(_CALLS, cross_layers=sorted(set(_WHERE)))
    return report


#: Public classes of the two modules that are neither methods nor metrics.
NOT_METHODS = {"ModelRandomizationStrategy", "ProgressiveLayerRandomization"}


def public_classes() -> dict:
    """Every public attribution method and metric class, by name (bases excluded)."""
    found = {}
    for module in (attributions, metrics):
        for name in module.__all__:
            cls = getattr(module, name)
            if inspect.isclass(cls) and not inspect.isabstract(cls) \
                    and not name.startswith("Base") and name not in NOT_METHODS:
                found[name] = cls
    return found


def without_strategy() -> list:
    """Public classes that do not take the keyword-only `strategy`, or whose calls would not
    run under it (not built on :class:`~xplique.commons.distribution.Distributed`)."""
    missing = []
    for name, cls in public_classes().items():
        parameter = inspect.signature(cls).parameters.get("strategy")
        if parameter is None or parameter.kind is not inspect.Parameter.KEYWORD_ONLY \
                or not issubclass(cls, distribution.Distributed):
            missing.append(name)
    return sorted(missing)


def main(path: str):
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
    )
    keras.layers.Layer.__call__ = _recording_call
    distribution._replica = _counting_replica  # pylint: disable=protected-access
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    subjects = [param.values[0] for param in SUBJECTS] + EXTRA + [_control()]
    reports = {}
    for subject in subjects:
        key = subject.name if subject.name not in reports else f"{subject.name}-2"
        try:
            reports[key] = check(subject, strategy)
        except Exception as error:  # reported, so that one failure names itself
            reports[key] = {"error": f"{type(error).__name__}: {error}"}
    covered = {subject.name for subject in subjects}
    result = {"replicas": strategy.num_replicas_in_sync, "subjects": reports,
              "uncovered": sorted(set(public_classes()) - covered),
              "without_strategy": without_strategy()}
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])

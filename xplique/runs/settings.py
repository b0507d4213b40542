"""The settings of a run, as JSON, and the check that a resumed run has the same ones.

A run folder may only be resumed with the same method, parameters, model, inputs, shard size
and metrics: :func:`run_settings` describes them (the model by a sha256 of its weights, the
inputs by their per-input shape, dtype and a sha256 of the first shard) and
:func:`check_same_settings` raises a one-line ValueError naming what differs.
"""

import hashlib
import inspect
from typing import Dict

import numpy as np
import tensorflow as tf


def stable_value(value):
    """A JSON value describing `value` the same way in every process (no memory addresses)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [stable_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): stable_value(item) for key, item in sorted(value.items(), key=str)}
    if isinstance(value, (np.ndarray, tf.Tensor, tf.Variable)):
        array = np.asarray(value)
        return {"array": list(array.shape), "dtype": str(array.dtype),
                "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()}
    if hasattr(value, "explain") and not isinstance(value, type):  # a wrapped explainer
        return {"method": type(value).__name__, "parameters": method_parameters(value)}
    if hasattr(value, "name") and hasattr(type(value), "__members__"):  # an Enum member
        return f"{type(value).__name__}.{value.name}"
    if callable(value):
        name = getattr(value, "__qualname__", type(value).__name__)
        return f"{getattr(value, '__module__', '?')}.{name}"
    return type(value).__name__


def model_fingerprint(model) -> str:
    """sha256 of a model's class and weights (of its name only when it has no weights)."""
    digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    weights = getattr(model, "weights", None)
    if weights is None:
        weights = getattr(model, "variables", ())
    for weight in weights:
        array = np.asarray(weight)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


#: Parameters that do not change the explanations, so a run may resume with other values.
NEUTRAL_PARAMETERS = ("model", "batch_size", "verbose")


def method_parameters(explainer) -> Dict:
    """The constructor parameters of `explainer` that shape its explanations (model, batch
    size and verbosity excluded), read from its attributes."""
    parameters = {}
    for name in inspect.signature(type(explainer)).parameters:
        if name in NEUTRAL_PARAMETERS or not hasattr(explainer, name):
            continue
        parameters[name] = stable_value(getattr(explainer, name))
    return parameters


def inputs_fingerprint(first_inputs: np.ndarray, first_targets, nb_inputs) -> Dict:
    """Per-input shape, dtype, count (when known) and sha256 of the first shard."""
    return {
        "shape": list(first_inputs.shape[1:]),
        "count": nb_inputs,
        "first_shard_sha256": shard_inputs_sha256(first_inputs, first_targets),
    }


def shard_inputs_sha256(inputs: np.ndarray, targets) -> str:
    """sha256 of a shard's inputs (float32 bytes) and targets."""
    digest = hashlib.sha256(np.ascontiguousarray(inputs, dtype=np.float32).tobytes())
    if targets is not None:
        targets = np.asarray(targets)
        digest.update(f"{targets.shape}{targets.dtype}".encode())
        digest.update(np.ascontiguousarray(targets).tobytes())
    return digest.hexdigest()


def run_settings(explainer, metric_specs, shard_size: int, inputs: Dict) -> Dict:
    """The settings written in every manifest of a run."""
    return {
        "method": type(explainer).__name__,
        "parameters": method_parameters(explainer),
        "model": model_fingerprint(base_explainer(explainer).model),
        "inputs": inputs,
        "shard_size": shard_size,
        "metrics": [[name, stable_value(params)] for name, _, params in metric_specs],
    }


def base_explainer(explainer):
    """The explainer that holds the model (through wrappers such as TTA and FORGrad)."""
    while not hasattr(explainer, "model") and hasattr(getattr(explainer, "explainer", None),
                                                        "explain"):
        explainer = explainer.explainer
    return explainer


def check_same_settings(recorded: Dict, current: Dict, out_dir: str) -> None:
    """Raise a one-line ValueError naming the settings that differ from the recorded ones."""
    differences = []
    for key in ("method", "parameters", "model", "inputs", "shard_size", "metrics"):
        if recorded.get(key) == current.get(key):
            continue
        if key == "parameters":
            names = sorted(name for name in set(recorded[key]) | set(current[key])
                           if recorded[key].get(name) != current[key].get(name))
            differences.append(f"parameters {', '.join(names)}")
        elif key in ("method", "shard_size"):
            differences.append(f"{key} {recorded.get(key)!r} != {current.get(key)!r}")
        else:
            differences.append(key)
    if differences:
        raise ValueError(
            f"`out_dir` {out_dir} holds a run with other settings ({'; '.join(differences)} "
            "differ): resume it with the same settings or write to another folder"
        )

"""The files the command line reads and writes: saved Keras models and `.npy` arrays.

Each loader checks the file and raises a :class:`~xplique.cli.errors.CliError` saying what it
expected; Keras and NumPy are imported only when a command runs.
"""

import os

from xplique.cli.errors import CliError, one_line


def load_model(path: str, unsafe: bool = False):
    """Load a saved Keras model, safely unless `unsafe`."""
    import keras

    if not os.path.isfile(path):
        raise CliError(f"model file not found: {path}")
    try:
        return keras.models.load_model(path, safe_mode=not unsafe, compile=False)
    except Exception as error:  # a loader can fail in many ways on a user's file
        if not unsafe and "safe_mode" in str(error):
            raise CliError(
                f"model {path} needs unsafe deserialization (it holds Python code, e.g. a Lambda "
                "layer); pass --unsafe to load it if you trust the file"
            ) from error
        raise CliError(f"cannot load model {path}: {one_line(error)}") from error


def load_array(path: str, name: str):
    """Load a numeric `.npy` array (no pickles)."""
    import numpy as np

    if not os.path.isfile(path):
        raise CliError(f"{name} file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise CliError(f"cannot read {name} file {path} as a .npy array: {one_line(error)}")
    if not isinstance(array, np.ndarray) or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise CliError(f"{name} file {path} must hold numbers. Received dtype {array.dtype}")
    return array


def make_parent(path: str) -> None:
    """Create the folder that will hold `path` (nothing when it exists)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)

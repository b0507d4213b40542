"""xplique: a TensorFlow-native explainability toolbox for Keras models.

Subpackages: :mod:`xplique.attributions` (attribution methods), :mod:`xplique.commons`
(the shared engine), :mod:`xplique.plots` (imports matplotlib; not imported here).
The subpackages load on first use (`xplique.attributions`, `from xplique.metrics import ...`),
so `python -m xplique --help` answers without importing TensorFlow.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

if importlib.util.find_spec("tensorflow") is None:  # pragma: no cover - only without TensorFlow
    raise ImportError(
        "xplique needs TensorFlow >= 2.16, which is not installed. Install it with one of the "
        "extras: `pip install \"xplique[tf]\"` (GPU-capable build) or "
        "`pip install \"xplique[tf-cpu]\"` (CPU build)."
    )

_SUBPACKAGES = (
    "attributions", "commons", "concepts", "example_based", "feature_visualization",
    "features_visualizations", "metrics", "runs", "utils_functions", "wrappers",
)

__all__ = ["__version__", "Tasks", *_SUBPACKAGES]


def __getattr__(name):
    """Load a subpackage (or `Tasks`) on first access (PEP 562)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "Tasks":
        from xplique.commons.operators import Tasks  # pylint: disable=C0415

        return Tasks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

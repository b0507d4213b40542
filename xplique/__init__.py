"""xplique: a TensorFlow-native explainability toolbox for Keras models.

Subpackages: :mod:`xplique.attributions` (attribution methods), :mod:`xplique.commons`
(the shared engine), :mod:`xplique.plots` (imports matplotlib; not imported here).
"""

__version__ = "0.1.0"

try:
    import tensorflow as _tf  # noqa: F401
except ImportError as _error:  # pragma: no cover - exercised only without TensorFlow
    raise ImportError(
        "xplique needs TensorFlow >= 2.16, which is not installed. Install it with one of the "
        "extras: `pip install \"xplique[tf]\"` (GPU-capable build) or "
        "`pip install \"xplique[tf-cpu]\"` (CPU build)."
    ) from _error

# wrappers imports torch only when a wrapper is built, so `import xplique` never does
from xplique import attributions, commons, metrics, wrappers  # noqa: E402
from xplique.commons.operators import Tasks  # noqa: E402

__all__ = ["__version__", "Tasks", "attributions", "commons", "metrics", "wrappers"]

"""Alternative spelling of :mod:`xplique.features_visualizations` (Xplique's slides and this
project's design use both): the same objects, listed once in that module's `__all__`."""

from xplique import features_visualizations as _features_visualizations

__all__ = list(_features_visualizations.__all__)
globals().update({name: getattr(_features_visualizations, name) for name in __all__})

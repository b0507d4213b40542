"""Meta-explainers: wrap any explainer to post-process or average its explanations.

They compose (`TTA(FORGrad(Saliency(model)))`) rather than subclass, and expose the same
`explain(inputs, targets)` / `__call__` as the explainers they wrap.
"""

from xplique.attributions.meta.forgrad import FORGrad
from xplique.attributions.meta.tta import TTA

__all__ = ["FORGrad", "TTA"]

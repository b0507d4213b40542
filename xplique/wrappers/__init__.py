"""Model adapters: run models from other frameworks through xplique.

:class:`TorchWrapper` needs the optional `torch` extra (`pip install "xplique[torch]"`); torch is
imported only when a wrapper is built, so `import xplique` never imports it.
"""

from xplique.wrappers.pytorch import TorchWrapper

__all__ = ["TorchWrapper"]

"""`python -m xplique demo|explain ...`: see :mod:`xplique.cli`."""

import sys

from xplique.cli import main

if __name__ == "__main__":
    sys.exit(main())

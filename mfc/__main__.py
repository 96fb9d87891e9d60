"""``python -m mfc``: the ``mfc`` command."""

import sys

from mfc.cli import main

if __name__ == "__main__":  # not when merely imported (pkgutil.walk_packages)
    sys.exit(main())

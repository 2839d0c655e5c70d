"""Entry point: python -m oneupgrade.lab"""

import sys

from .cli import main

sys.exit(main())

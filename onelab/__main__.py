"""Entry point: python -m onelab"""

import sys

from .cli import main

sys.exit(main())

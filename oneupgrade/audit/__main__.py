"""`python -m oneupgrade.audit verify ...`: check audit logs (see `oneupgrade.audit.log`)."""

import sys

from oneupgrade.audit.log import main

sys.exit(main())

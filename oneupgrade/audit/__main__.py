"""`python -m oneupgrade.audit verify ...`: check audit logs (see `oneupgrade.audit.verify`)."""

import sys

from oneupgrade.audit.verify import main

sys.exit(main())

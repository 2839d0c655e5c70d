"""Entry point of the sshd ForceCommand's slow path (faults or latencies are set)."""

import importlib
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, "/usr/lib/one-lab")
sys.exit(importlib.import_module("sim.session").main())

"""The runbook's command line as an operator types it, for the programs that run it
(the demo, the benchmark, the tests): `pytest runbook/ --inventory PATH [options]`,
run from the checkout's root with this interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def runbook_argv(inventory: Path | str, *options: str, procedure: str = "runbook/") -> list[str]:
    """argv of a runbook run (its working directory: ROOT); `rollback/` for the rollback."""
    return [sys.executable, "-m", "pytest", procedure, "--inventory", str(inventory), *options]

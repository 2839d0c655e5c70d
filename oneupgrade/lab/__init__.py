"""The former names of the lab's commands, kept so that scripts and habits still work:
`python -m oneupgrade.lab` is `python -m onelab`, `python -m oneupgrade.lab.real` is
`python -m onelab.real` and `python -m oneupgrade.demo` is `python -m onelab.demo`.

The lab is its own package (`onelab`, in the checkout beside `oneupgrade`); the product
never imports it. These aliases only run its commands by name.
"""

from __future__ import annotations

import runpy
import sys


def forward(module: str, alias: str) -> None:
    """Run `python -m module` as `python -m alias` did, or say in one line why not."""
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise
        sys.exit(f"python -m {alias}: the lab ({module}) is not installed; run it from a checkout")

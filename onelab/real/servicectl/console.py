"""What the tool prints: its messages (not with --quiet) and its errors."""

from __future__ import annotations

import sys

QUIET = False


def out(line: str) -> None:
    if not QUIET:
        print(line)


def err(line: str) -> None:
    print(line, file=sys.stderr)

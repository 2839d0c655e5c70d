"""One fan-out's state as its events tell it, and the lines that show it: the live
status line and the summary line it becomes (progress.py writes them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FanOut", "status_line", "summary_line"]

SHOWN = 3  # working nodes named on the status line, at most
_ENV = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+")


@dataclass
class FanOut:
    """One fan-out's state, as the events tell it."""

    step: str
    total: int
    began: float
    working: dict[str, float] = field(default_factory=dict)  # node -> when it began
    done: int = 0
    failed: list[str] = field(default_factory=list)
    took: dict[str, float] = field(default_factory=dict)  # node -> seconds, when finished

    @property
    def complete(self) -> bool:
        return self.done >= self.total


def _clock(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 600 else f"{seconds / 60:.0f}m"


def status_line(
    fan: FanOut, now: float, running: Callable[[str], tuple[str, float] | None], width: int
) -> str:
    """The live line, cut to `width` (a wrapped line cannot be rewritten in place)."""
    text = f"  {fan.step}: {fan.done}/{fan.total} done"
    if fan.failed:
        text += f", {len(fan.failed)} failed"
    longest = sorted(fan.working.items(), key=lambda kv: kv[1])[:SHOWN]
    for node, since in longest:
        what = running(node)
        if what is None:
            text += f" | {node} {_clock(now - since)}"
        else:
            command, started = what
            command = _ENV.sub("", command)  # `DEBIAN_FRONTEND=... apt-get`: the tool first
            short = command if len(command) <= 40 else command[:37] + "..."
            text += f" | {node} {short} {_clock(now - started)}"
    return _cut(text, width)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def summary_line(fan: FanOut, now: float, width: int = 10_000) -> str:
    text = f"  {fan.step}: {fan.done}/{fan.total} done"
    if fan.failed:
        named = ", ".join(sorted(fan.failed)[:5]) + ("..." if len(fan.failed) > 5 else "")
        text += f", {len(fan.failed)} failed ({named})"
    text += f", {now - fan.began:.1f} s"
    if fan.took and fan.total > 1:
        node, seconds = max(fan.took.items(), key=lambda kv: kv[1])
        text += f"; slowest {node} {seconds:.1f} s"
    if not fan.complete:
        text += f"; {fan.total - fan.done} not finished"
    return _cut(text, width)

"""The report's timeline: when each node did what, and where the outage was.

One lane per node (front-ends first, as the inventory lists them), one bar per step's
work on a node (from its first command's start to its last command's end), coloured
by outcome; the control-plane outage as a band across every lane; hovering a bar
(an SVG <title>) gives the step, the node, the time, the number of commands and the
last one. Plain inline SVG: no script, no network, legible at 3 + 200 nodes (lanes
get thinner, the picture longer).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

__all__ = ["Bar", "Command", "bars", "svg"]

WIDTH = 960  # the whole picture, px
LABELS = 90  # the lane-name column, px
COLOURS = {"passed": "#3c9a3c", "failed": "#c8312b", "planned": "#8a8f98"}
OUTAGE = "#f0b429"


class Command(Protocol):
    """What the timeline reads of one recorded command (the recorder's Record)."""

    @property
    def step(self) -> int | None: ...
    @property
    def node(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def started(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def planned(self) -> bool: ...


@dataclass(frozen=True)
class Bar:
    step: int
    node: str
    start: float
    end: float
    outcome: str  # passed | failed | planned
    commands: int
    label: str  # "9 Upgrade the hypervisors"
    last: str  # the last command


def bars(
    commands: Iterable[Command], failed: dict[int, set[str]], names: dict[int, str]
) -> list[Bar]:
    """A bar per (step, node) with commands; `failed`: the nodes each step failed on."""
    groups: dict[tuple[int, str], list[Command]] = {}
    for c in commands:
        if c.step is not None:
            groups.setdefault((c.step, c.node), []).append(c)
    found = []
    for (step, node), group in sorted(groups.items()):
        if node in failed.get(step, set()):
            outcome = "failed"
        elif all(c.planned for c in group):
            outcome = "planned"
        else:
            outcome = "passed"
        start = min(c.started for c in group)
        end = max(c.started + c.duration for c in group)
        label = f"{step} {names.get(step, '')}".strip()
        found.append(Bar(step, node, start, end, outcome, len(group), label, group[-1].command))
    return found


def _ticks(span: float) -> float:
    for tick in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span / tick <= 10:
            return float(tick)
    return 7200.0


@dataclass(frozen=True)
class _Frame:
    """The picture's geometry: its lanes, their height, and where a time is drawn."""

    lanes: list[str]
    start: float
    end: float

    @property
    def lane(self) -> int:
        n = len(self.lanes)
        return 14 if n <= 40 else (8 if n <= 120 else 5)

    @property
    def top(self) -> int:
        return 18

    @property
    def height(self) -> int:
        return self.top + self.lane * len(self.lanes) + 4

    @property
    def span(self) -> float:
        return max(self.end - self.start, 1e-3)

    @cached_property
    def row(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.lanes)}

    def x(self, t: float) -> float:
        plot = WIDTH - LABELS - 10
        return LABELS + max(0.0, min(1.0, (t - self.start) / self.span)) * plot


def svg(
    found: Sequence[Bar],
    lanes: Sequence[str],
    start: float,
    end: float,
    outage: tuple[float, float | None] | None,
) -> str:
    """The picture as inline SVG markup (every text escaped)."""
    extra = sorted({b.node for b in found} - set(lanes))
    frame = _Frame([*lanes, *extra], start, end)
    height = frame.height
    parts = [
        f'<svg id="ou-timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        'aria-label="timeline of the run" style="font:10px sans-serif">'
    ]
    parts += _ticks_drawn(frame)
    if outage is not None:
        parts.append(_outage(frame, outage))
    parts += _lane_names(frame)
    for b in found:
        parts += _bar(frame, b)
    parts.append("</svg>")
    return f'<div class="ou-timeline">{"".join(parts)}<p>{_legend()}</p></div>'


def _ticks_drawn(frame: _Frame) -> list[str]:
    """A vertical line and its seconds label at every tick."""
    x, top, height = frame.x, frame.top, frame.height
    parts = []
    tick = _ticks(frame.span)
    t = 0.0
    while t <= frame.span:
        parts.append(
            f'<line x1="{x(frame.start + t):.1f}" y1="{top - 4}" x2="{x(frame.start + t):.1f}" '
            f'y2="{height}" stroke="#ddd"/><text x="{x(frame.start + t):.1f}" y="10" '
            f'text-anchor="middle" fill="#555">{t:g} s</text>'
        )
        t += tick
    return parts


def _outage(frame: _Frame, outage: tuple[float, float | None]) -> str:
    """The control-plane outage: a band across every lane."""
    x, top = frame.x, frame.top
    down, up = outage[0], outage[1] if outage[1] is not None else frame.end
    held = f"{up - down:.1f} s" if outage[1] is not None else "not ended"
    return (
        f'<rect class="ou-outage" x="{x(down):.1f}" y="{top - 4}" '
        f'width="{max(x(up) - x(down), 1):.1f}" height="{frame.height - top + 4}" '
        f'fill="{OUTAGE}" fill-opacity="0.25"><title>control-plane outage: {held}'
        "</title></rect>"
    )


def _lane_names(frame: _Frame) -> list[str]:
    lane = frame.lane
    if lane < 8:
        return []  # too thin to be named
    return [
        f'<text x="{LABELS - 4}" y="{frame.top + i * lane + lane - 3}" text-anchor="end">'
        f"{html.escape(name)}</text>"
        for i, name in enumerate(frame.lanes)
    ]


def _bar(frame: _Frame, b: Bar) -> list[str]:
    """One step's work on one node, its number inside when there is room."""
    e, x, lane = html.escape, frame.x, frame.lane
    y = frame.top + frame.row[b.node] * lane + 1
    width = max(x(b.end) - x(b.start), 1.5)
    title = (
        f"{b.node}, step {b.label}: {b.outcome}, {b.end - b.start:.1f} s, "
        f"{b.commands} command(s); last: {b.last}"
    )
    parts = [
        f'<rect class="ou-bar ou-{b.outcome}" data-node="{e(b.node)}" data-step="{b.step}" '
        f'x="{x(b.start):.1f}" y="{y}" width="{width:.1f}" height="{lane - 2}" '
        f'fill="{COLOURS[b.outcome]}"><title>{e(title)}</title></rect>'
    ]
    if lane >= 14 and width > 14:
        parts.append(
            f'<text x="{x(b.start) + 2:.1f}" y="{y + lane - 5}" fill="#fff" '
            f'pointer-events="none">{b.step}</text>'
        )
    return parts


def _legend() -> str:
    legend = " ".join(
        f'<span style="display:inline-block;width:10px;height:10px;background:{colour}">'
        f"</span> {name}"
        for name, colour in [*COLOURS.items(), ("control-plane outage", OUTAGE)]
    )
    note = (
        "One lane per node, a bar per step's work on it (the number is the step; hover "
        "for its commands)."
    )
    return f"{legend}. {html.escape(note)}"

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


def svg(
    found: Sequence[Bar],
    lanes: Sequence[str],
    start: float,
    end: float,
    outage: tuple[float, float | None] | None,
) -> str:
    """The picture as inline SVG markup (every text escaped)."""
    e = html.escape
    extra = sorted({b.node for b in found} - set(lanes))
    lanes = [*lanes, *extra]
    lane = 14 if len(lanes) <= 40 else (8 if len(lanes) <= 120 else 5)
    top, plot = 18, WIDTH - LABELS - 10
    height = top + lane * len(lanes) + 4
    span = max(end - start, 1e-3)

    def x(t: float) -> float:
        return LABELS + max(0.0, min(1.0, (t - start) / span)) * plot

    parts = [
        f'<svg id="ou-timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        'aria-label="timeline of the run" style="font:10px sans-serif">'
    ]
    tick = _ticks(span)
    t = 0.0
    while t <= span:
        parts.append(
            f'<line x1="{x(start + t):.1f}" y1="{top - 4}" x2="{x(start + t):.1f}" '
            f'y2="{height}" stroke="#ddd"/><text x="{x(start + t):.1f}" y="10" '
            f'text-anchor="middle" fill="#555">{t:g} s</text>'
        )
        t += tick
    if outage is not None:
        down, up = outage[0], outage[1] if outage[1] is not None else end
        held = f"{up - down:.1f} s" if outage[1] is not None else "not ended"
        parts.append(
            f'<rect class="ou-outage" x="{x(down):.1f}" y="{top - 4}" '
            f'width="{max(x(up) - x(down), 1):.1f}" height="{height - top + 4}" '
            f'fill="{OUTAGE}" fill-opacity="0.25"><title>control-plane outage: {held}'
            "</title></rect>"
        )
    row = {name: i for i, name in enumerate(lanes)}
    for i, name in enumerate(lanes):
        y = top + i * lane
        if lane >= 8:
            parts.append(
                f'<text x="{LABELS - 4}" y="{y + lane - 3}" text-anchor="end">{e(name)}</text>'
            )
    for b in found:
        y = top + row[b.node] * lane + 1
        width = max(x(b.end) - x(b.start), 1.5)
        title = (
            f"{b.node}, step {b.label}: {b.outcome}, {b.end - b.start:.1f} s, "
            f"{b.commands} command(s); last: {b.last}"
        )
        parts.append(
            f'<rect class="ou-bar ou-{b.outcome}" data-node="{e(b.node)}" data-step="{b.step}" '
            f'x="{x(b.start):.1f}" y="{y}" width="{width:.1f}" height="{lane - 2}" '
            f'fill="{COLOURS[b.outcome]}"><title>{e(title)}</title></rect>'
        )
        if lane >= 14 and width > 14:
            parts.append(
                f'<text x="{x(b.start) + 2:.1f}" y="{y + lane - 5}" fill="#fff" '
                f'pointer-events="none">{b.step}</text>'
            )
    parts.append("</svg>")
    legend = " ".join(
        f'<span style="display:inline-block;width:10px;height:10px;background:{colour}">'
        f"</span> {name}"
        for name, colour in [*COLOURS.items(), ("control-plane outage", OUTAGE)]
    )
    note = (
        "One lane per node, a bar per step's work on it (the number is the step; hover "
        "for its commands)."
    )
    return f'<div class="ou-timeline">{"".join(parts)}<p>{legend}. {e(note)}</p></div>'

"""The report's timeline (plugin.timeline): bars from commands, the SVG drawn from them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from oneupgrade.plugin.timeline import bars, svg


@dataclass(frozen=True)
class Cmd:
    step: int | None
    node: str
    command: str
    started: float
    duration: float
    planned: bool = False


def test_a_bar_spans_a_nodes_commands_of_one_step_and_takes_the_steps_outcome() -> None:
    commands = [
        Cmd(4, "fe1", "onedb backup", 10.0, 2.0),
        Cmd(4, "fe1", "apt-get install opennebula", 12.5, 3.0),
        Cmd(5, "fe2", "apt-get install opennebula", 16.0, 1.0),
        Cmd(None, "fe1", "onezone show 0", 1.0, 0.1),  # outside any step: no bar
        Cmd(9, "hv1", "apt-get install opennebula-node-kvm", 30.0, 1.0, planned=True),
    ]
    found = bars(commands, {5: {"fe2"}}, {4: "Upgrade the leader"})
    assert [(b.step, b.node, b.start, b.end, b.outcome, b.commands) for b in found] == [
        (4, "fe1", 10.0, 15.5, "passed", 2),
        (5, "fe2", 16.0, 17.0, "failed", 1),
        (9, "hv1", 30.0, 31.0, "planned", 1),
    ]
    assert (found[0].label, found[0].last) == ("4 Upgrade the leader", "apt-get install opennebula")


def test_the_picture_has_a_lane_per_node_the_outage_band_and_escaped_titles() -> None:
    commands = [Cmd(4, "fe1", "echo '<b>&'", 10.0, 2.0), Cmd(9, "hv1", "apt-get", 20.0, 5.0)]
    picture = svg(bars(commands, {}, {}), ["fe1", "fe2", "hv1"], 0.0, 30.0, (5.0, 18.0))
    markup = re.search(r"<svg.*</svg>", picture, re.S)[0]  # type: ignore[index]
    root = ET.fromstring(markup)  # noqa: S314  # our own markup
    ns = {"s": "http://www.w3.org/2000/svg"}
    lanes = [t.text for t in root.findall("s:text", ns) if t.get("text-anchor") == "end"]
    assert lanes == ["fe1", "fe2", "hv1"]
    rects = root.findall("s:rect", ns)
    outage = [r for r in rects if r.get("class") == "ou-outage"]
    assert len(outage) == 1
    assert "13.0 s" in outage[0].findtext("s:title", namespaces=ns)  # type: ignore[operator]
    bars_drawn = [r for r in rects if "ou-bar" in (r.get("class") or "")]
    assert [(r.get("data-node"), r.get("data-step")) for r in bars_drawn] == [
        ("fe1", "4"),
        ("hv1", "9"),
    ]
    assert "last: echo '<b>&'" in bars_drawn[0].findtext("s:title", namespaces=ns)  # type: ignore[operator]
    # the hypervisor's bar is later and to the right of the leader's
    assert float(bars_drawn[1].get("x")) > float(bars_drawn[0].get("x"))  # type: ignore[arg-type]


def test_two_hundred_lanes_stay_within_a_legible_picture() -> None:
    nodes = [f"fe{i}" for i in range(1, 4)] + [f"hv{i}" for i in range(1, 201)]
    commands = [Cmd(9, n, "apt-get", float(i), 2.0) for i, n in enumerate(nodes)]
    picture = svg(bars(commands, {}, {}), nodes, 0.0, 210.0, None)
    height = int(re.search(r'height="(\d+)"', picture)[1])  # type: ignore[index]
    assert 203 * 5 <= height <= 203 * 5 + 40  # thin lanes, every node on one
    assert picture.count('class="ou-bar') == 203
    assert "ou-outage" not in picture

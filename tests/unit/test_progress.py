"""The live status line's text (oneupgrade.plugin.progress)."""

from __future__ import annotations

from oneupgrade.plugin.fanout import FanOut, status_line, summary_line


def test_the_status_line_names_the_longest_working_nodes_and_fits_the_width() -> None:
    fan = FanOut("step 9", 200, 100.0, working={"hv7": 101.0, "hv9": 130.0, "hv3": 150.0})
    fan.done, fan.failed = 37, ["hv2"]
    commands = {"hv7": ("DEBIAN_FRONTEND=noninteractive apt-get install -y x", 105.0)}
    line = status_line(fan, 346.0, commands.get, 200)
    assert line.startswith("  step 9: 37/200 done, 1 failed | hv7 apt-get install -y x 241s")
    assert line.index("hv7") < line.index("hv9") < line.index("hv3")  # longest first
    assert line.endswith("| hv3 196s")  # between two commands: the node's own clock
    narrow = status_line(fan, 346.0, commands.get, 40)
    assert len(narrow) <= 40
    assert narrow.endswith("...")


def test_the_summary_names_failures_the_slowest_node_and_what_never_finished() -> None:
    fan = FanOut("step 5", 3, 10.0, done=2, failed=["fe3"], took={"fe2": 4.0, "fe3": 1.5})
    assert summary_line(fan, 16.0) == (
        "  step 5: 2/3 done, 1 failed (fe3), 6.0 s; slowest fe2 4.0 s; 1 not finished"
    )

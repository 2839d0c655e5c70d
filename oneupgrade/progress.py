"""Live progress of the per-node work of a step, in pytest's terminal.

`Cluster.fan_out` reports each node's start and finish (`Progress.event`); this module
turns them into complete lines written through pytest's terminal reporter, so they
never break pytest's own output (`write_line` ends the current line first, and pytest
writes the test's id again before its result)::

    step 5: fe2 started (0/2 done)          -v and more
    step 5: fe2 done (1/2)                  default and -v
    step 5: 2/2 done                        -q: only counts, once per fan-out

No pytest import: the plugin registers a `Progress` as a pytest plugin (its
`pytest_runtest_setup` learns which step runs) and hands `event` to the cluster.
While a test runs pytest captures the output file descriptors; each line is written
with capturing suspended, as pytest's live logging does.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Writes fan-out progress lines; thread-safe (events come from the worker pool)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.step: str = ""
        self._lock = threading.Lock()

    @property
    def _terminal(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    # pytest hook (registered by the plugin): which step the events belong to
    def pytest_runtest_setup(self, item: Any) -> None:
        marker = item.get_closest_marker("step")
        self.step = f"step {marker.args[0]}" if marker is not None else item.name

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.step = ""  # fan-outs outside a step (the report's summary) print nothing

    def event(self, kind: str, node: str, done: int, total: int) -> None:
        """kind: "start" | "done" | "failed"; `done` counts finished nodes, this one included."""
        tr = self._terminal
        if tr is None or not self.step:
            return
        verbosity = int(getattr(self.config.option, "verbose", 0) or 0)
        if verbosity < 0:
            if kind == "start" or done < total:
                return
            line = f"  {self.step}: {done}/{total} done"
        elif kind == "start":
            if verbosity < 1:
                return
            line = f"  {self.step}: {node} started ({done}/{total} done)"
        elif kind == "failed":
            line = f"  {self.step}: {node} FAILED ({done}/{total})"  # why: in the report
        else:
            line = f"  {self.step}: {node} done ({done}/{total})"
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with self._lock:
            # While a test runs pytest captures fd 1: step out of it, as live logging does.
            if capman is not None:
                with capman.global_and_fixture_disabled():
                    tr.ensure_newline()
                    tr.write_line(line)
            else:
                tr.ensure_newline()
                tr.write_line(line)

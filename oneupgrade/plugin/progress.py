"""Live progress of the per-node work of a step, in pytest's terminal.

`Cluster.fan_out` reports each node's start and finish (`Progress.event`). What the
operator sees depends on where the output goes:

- **A terminal** (not `log_cli`): one status line per fan-out, rewritten in place
  twice a second: the step, n of N done, the failures so far, and the nodes working
  longest with the command each is running and for how long. At 200 hypervisors it
  stays one line, and a node four minutes into `apt-get install` shows its clock::

      step 9: 37/50 done, 1 failed | hv7 apt-get install ... 41s | hv12 systemctl ... 3s

  When the fan-out ends the line becomes its summary and stays::

      step 9: 50/50 done, 1 failed (hv3), 44.0 s; slowest hv7 41.2 s

- **Not a terminal** (CI, `| tee`, `log_cli`): plain lines, at most one per node per
  change of state. With `-v` (a line per test) they are written as they happen,
  between pytest's lines; otherwise they are kept until the step's module has its
  results, so they never come between pytest's dots (`-q`: one count per fan-out).

No pytest import: the plugin registers a `Progress` as a pytest plugin (its hooks learn
which step runs and when a module ends) and hands `event` to the cluster. While a test
runs pytest captures the output file descriptors; writes happen with capturing
suspended, as pytest's live logging does.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import pluggy

from oneupgrade.plugin.fanout import FanOut, status_line, summary_line

__all__ = ["Progress"]

TICK = 0.5  # seconds between rewrites of the status line
hookimpl = pluggy.HookimplMarker("pytest")


class Progress:
    """Writes fan-out progress; thread-safe (events come from the worker pool)."""

    def __init__(
        self,
        config: Any,
        running: Callable[[str], tuple[str, float] | None] = lambda node: None,
    ) -> None:
        self.config = config
        self.running = running  # node -> (its current command, since when), or None
        self.step: str = ""
        self._lock = threading.RLock()
        self._fan: FanOut | None = None
        self._nodeid = ""  # the test running (its module's path heads pytest's dots)
        self._held: list[str] = []  # lines kept until the module's results are written
        self._module_ends = False
        self._stop = threading.Event()  # the current ticker's (each has its own)

    @property
    def _terminal(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @property
    def _verbosity(self) -> int:
        return int(getattr(self.config.option, "verbose", 0) or 0)

    @property
    def live(self) -> bool:
        """A terminal that shows a rewritten line: a TTY, and no live logging into it."""
        tr = self._terminal
        if tr is None or not bool(tr.isatty):
            return False
        log_cli = self.config.getoption("log_cli_level", None) or _ini(self.config, "log_cli")
        return not log_cli

    # -- pytest hooks (registered by the plugin) ---------------------------------------

    def pytest_runtest_setup(self, item: Any) -> None:
        marker = item.get_closest_marker("step")
        self.step = f"step {marker.args[0]}" if marker is not None else item.name
        self._nodeid = item.nodeid

    def pytest_runtest_teardown(self, item: Any, nextitem: Any) -> None:
        self._module_ends = nextitem is None or nextitem.path != item.path

    @hookimpl(trylast=True)  # after pytest's own "[100%]"
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        with self._lock:
            if self._fan is not None and not self._fan.complete and self.live:
                self._finish(time.time())  # interrupted: some nodes never reported
            self._fan = None
            self.step = ""  # fan-outs outside a step (the report's summary) print nothing
            if self._held and self._module_ends:
                lines, self._held = self._held, []
                self._write_lines(lines)

    # -- events ------------------------------------------------------------------------

    def event(self, kind: str, node: str, done: int, total: int) -> None:
        """kind: "start" | "done" | "failed"; `done` counts finished nodes, this one included."""
        if self._terminal is None or not self.step:
            return
        now = time.time()
        with self._lock:
            fan = self._fan
            if fan is None or fan.complete or fan.step != self.step:
                fan = self._fan = FanOut(self.step, total, now)
                if self.live:
                    self._begin()
            if kind == "start":
                fan.working[node] = now
            else:
                began = fan.working.pop(node, now)
                fan.took[node] = now - began
                fan.done = max(fan.done, done)
                if kind == "failed":
                    fan.failed.append(node)
            if self.live:
                if fan.complete:
                    self._finish(now)
                else:
                    self._render(fan, now)
            else:
                self._plain(kind, node, done, total)

    # -- a terminal --------------------------------------------------------------------

    def _begin(self) -> None:
        tr = self._terminal

        def start() -> None:
            tr.ensure_newline()  # pytest writes the test's path again before its result
            if _line_open(tr):  # our own summary line of the fan-out before
                tr.write("\n")

        self._suspended(start)
        self._stop = stop = threading.Event()
        threading.Thread(
            target=self._tick, args=(stop,), name="oneupgrade-status", daemon=True
        ).start()

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(TICK):
            with self._lock:  # `stop` is set under the lock: no rewrite after the summary
                if stop.is_set() or self._fan is None:
                    return
                self._render(self._fan, time.time())

    def _render(self, fan: FanOut, now: float) -> None:
        self._rewrite(lambda width: status_line(fan, now, self.running, width))

    def _finish(self, now: float) -> None:
        """The status line becomes the fan-out's summary; pytest's own output goes on
        below it as it would have (the module's path again before its next dots)."""
        self._stop.set()
        fan = self._fan
        if fan is None:
            return
        tr = self._terminal

        def write() -> None:
            tr.rewrite(summary_line(fan, now, _width()), erase=True)
            if self._verbosity >= 1:
                pass  # pytest starts the test's result line afresh (write_ensure_prefix)
            elif tr.showfspath and self._nodeid:
                tr.write_fspath_result(self._nodeid, "")  # the module's dots go on after it
            else:
                tr.write("\n")  # -q: the dots go on below
            tr.flush()

        self._suspended(write)
        if not fan.complete:
            self._fan = None  # interrupted: late events of its nodes start no status line

    def _rewrite(self, line: Callable[[int], str]) -> None:
        """Rewrite the status line; its width is read with capturing stepped out of
        (while pytest captures fd 1 no terminal size can be read from it)."""
        tr = self._terminal

        def write() -> None:
            tr.rewrite(line(_width()), erase=True)
            tr.flush()

        self._suspended(write)

    # -- not a terminal ----------------------------------------------------------------

    def _plain(self, kind: str, node: str, done: int, total: int) -> None:
        verbosity = self._verbosity
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
        if verbosity >= 1:
            self._write_lines([line])  # a line per test: between pytest's lines
        else:
            self._held.append(line)

    def _write_lines(self, lines: list[str]) -> None:
        tr = self._terminal

        def write() -> None:
            tr.ensure_newline()
            for line in lines:
                tr.write_line(line)

        self._suspended(write)

    def _suspended(self, write: Callable[[], object]) -> None:
        """`write` with pytest's capturing stepped out of, as live logging does."""
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if capman is not None:
            with capman.global_and_fixture_disabled():
                write()
        else:
            write()


def _width() -> int:
    """Columns a rewritten line may use (one less than the terminal's: no wrap)."""
    return max(shutil.get_terminal_size((80, 24)).columns - 1, 20)


def _ini(config: Any, name: str) -> bool:
    try:
        return bool(config.getini(name))
    except (ValueError, KeyError):
        return False


def _line_open(tr: Any) -> bool:
    """Is the terminal's cursor after some text? (pytest's writer keeps the line.)"""
    writer = getattr(tr, "_tw", None)
    return bool(getattr(writer, "width_of_current_line", 0))

"""Stopping a run half way: Ctrl-C, SIGTERM and SIGHUP stop it the same way. No
command starts any more, the ones running are waited for, the step under way is
journaled as interrupted and gets its row in the HTML report.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Literal

import pytest

from oneupgrade.errors import RunbookError
from oneupgrade.plugin import report
from oneupgrade.plugin.items import step_id, step_of
from oneupgrade.plugin.state import RunbookState


class Interrupts(RunbookState):
    """The signal handlers and the keyboard-interrupt hook of a runbook run."""

    def stop_on_signals(self) -> None:
        """SIGTERM (a service manager, `kill`) and SIGHUP (the operator's terminal or SSH
        session gone) stop the run as Ctrl-C does: no command starts, the ones running
        are waited for, the journal, the report and the audit log are written. Python's
        default would end the process at once, mid-step."""
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, frame: object) -> None:
            if signum != signal.SIGINT:
                self.stopped_by = signal.Signals(signum).name
            # At once, in the handler: pytest reaches its keyboard-interrupt hook only
            # after unwinding, and the nodes' threads must not start a command meanwhile.
            self.cluster.halt.set()
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._signals[signum] = signal.signal(signum, stop)

    def restore_signals(self) -> None:
        for signum, handler in self._signals.items():
            signal.signal(signum, handler)
        self._signals.clear()

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.refused is not None:
            return  # refused before any change (the cluster lock): nothing to stop
        running = self.cluster.interrupt()
        item = self.current
        if item is not None and step_of(item) is None:
            item = None  # not a step of the runbook
        if item is not None:
            # The journal first: the wait below may be long, and a SIGKILL may end it.
            sid = step_id(item)
            entry = self.journal.step(sid)
            if not self.dry_run and entry is not None and entry["outcome"] == "running":
                self.journal.record_step(
                    sid,
                    "interrupted",
                    self.run_id,
                    entry["started"],
                    time.time() - entry["started"],
                    f"interrupted ({self.stopped_by})",
                )
            self.failed = self.failed or f"interrupted ({self.stopped_by}) during {item.name}"
            self.recorder.halted(f"interrupted ({self.stopped_by}) during {item.nodeid}")
        if running:
            redact = self.recorder.redactor.redact
            self.recorder.event("interrupted", running={n: redact(c) for n, c in running.items()})
            lines = [f"  {node}$ {report.one_line(redact(cmd))}" for node, cmd in running.items()]
            self._tell(
                f"INTERRUPTED ({self.stopped_by}): no further command will start. "
                f"Waiting for the {len(running)} command(s) still running (they run to "
                "their end on the nodes anyway; their outcome goes to the audit log); "
                "Ctrl-C again to stop waiting:\n" + "\n".join(lines)
            )
            self.cluster.settle()
        if item is not None and self._phase is not None:
            self._report_interrupted(item, *self._phase)

    def _report_interrupted(
        self, item: pytest.Item, when: Literal["setup", "call", "teardown"], since: float
    ) -> None:
        """pytest makes no report for a test stopped half way: this one's row in the
        HTML report, with the commands it ran before the interrupt."""
        self._interrupted = item

        def interrupted() -> None:
            raise RunbookError(
                f"interrupted ({self.stopped_by}) during its {when}: the commands it ran "
                "are below; --lf runs the step again"
            )

        call = pytest.CallInfo.from_call(interrupted, when=when)
        rep: pytest.TestReport = item.ihook.pytest_runtest_makereport(item=item, call=call)
        rep.duration = time.time() - since
        item.ihook.pytest_runtest_logreport(report=rep)
        if when != "teardown":  # pytest-html writes a test's row at its teardown report
            done = pytest.CallInfo.from_call(lambda: None, when="teardown")
            end = item.ihook.pytest_runtest_makereport(item=item, call=done)
            item.ihook.pytest_runtest_logreport(report=end)

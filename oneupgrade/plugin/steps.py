"""Running the steps: each step journaled as it runs and as it ends, the cluster lock
taken before the first step that may change the cluster, the run stopped at the first
failed step (the rest are skipped, naming it), and each phase's commands in its row of
the HTML report.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, NoReturn

import pytest
from pytest_html import extras as html_extras

from oneupgrade.campaign.clusterlock import ClusterLocked
from oneupgrade.errors import NodesFailed, RunbookError
from oneupgrade.plugin import report
from oneupgrade.plugin.items import node_of, step_id, step_of
from oneupgrade.plugin.state import RunbookState


class StepHooks(RunbookState):
    """The hooks around each test of the runbook (see the module doc)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item
        self._phase = ("setup", time.time())
        step = step_of(item)
        self.recorder.begin(item.nodeid, step[0] if step else None, item.name)
        if self.failed is not None and step_of(item) is not None:
            pytest.skip(f"not run: {self.failed}")
        if step is not None and step[0] != self._journal_step:
            # a step's end: the journal's copies on the front-ends (clusterjournal.py)
            self.on_cluster.after_step()
            self._journal_step = step[0]
        if step is not None and step[0] > 0 and self.failed is None and not self.dry_run:
            self._hold_the_cluster()
        if step is not None and not self.dry_run:
            # A run killed inside this step leaves it "running": not passed, so --lf redoes it.
            self.journal.record_step(step_id(item), "running", self.run_id, time.time(), 0.0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self._phase = ("call", time.time())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._phase = ("teardown", time.time())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        rep = yield
        step = step_of(item)
        if step is None:
            return rep
        self.step_names[step[0]] = step[1]
        if rep.failed and call.excinfo is not None and call.excinfo.errisinstance(RunbookError):
            # Our errors are written for the operator: their text, not a traceback.
            rep.longrepr = str(call.excinfo.value)
        # Before anything reads it: a CommandFailed's text carries stdout and stderr.
        report.redact_test_report(rep, self.recorder.redactor.redact)
        commands = self.recorder.take_phase()
        self._attach(rep, item, step[0], commands)
        if rep.failed:
            failing = _failing_nodes(call, node_of(item), commands)
            self.failed_nodes.setdefault(step[0], set()).update(failing)
        if rep.failed and self.failed is None:
            where = f" on {node_of(item)}" if node_of(item) else ""
            self.failed = f"step {step[0]} '{step[1]}' failed{where} ({item.name}): {_gist(rep)}"
            self.recorder.halted(self.failed)
        if call.when == "teardown":
            self._phase = None  # the item's reports are all made
        if item is self._interrupted:
            return rep  # journaled by pytest_keyboard_interrupt
        if call.when == "teardown" or rep.failed or (rep.skipped and call.when == "setup"):
            self._journal(item, rep)
        if rep.failed:
            self.on_cluster.after_step()  # the cluster's copy knows the failure at once
        return rep

    def _attach(
        self, rep: pytest.TestReport, item: pytest.Item, step: int, commands: list[Any]
    ) -> None:
        """Commands into the report row of every phase (setup and teardown run some too)."""
        extras = list(getattr(rep, "extras", []))
        notes = self.recorder.take_notes()
        if notes:
            extras.append(html_extras.html(report.notes_html(notes)))
            rep.sections.append(("oneupgrade", "\n".join(notes)))
        if commands:
            extras.append(html_extras.html(report.commands_html(commands, f"{rep.when}: commands")))
        node = node_of(item)
        if rep.when == "call" and node is not None:
            others = [r for r in self.recorder.step_commands(step, node) if r.item != item.nodeid]
            if others:
                heading = f"commands of step {step} on {node} run by the step's other tests"
                extras.insert(0, html_extras.html(report.commands_html(others, heading)))
        rep.extras = extras  # type: ignore[attr-defined]

    def _journal(self, item: pytest.Item, rep: pytest.TestReport) -> None:
        """The step's outcome: the worst of its phases, saved at once when not passed."""
        sid = step_id(item)
        outcome = "passed" if rep.passed else ("skipped" if rep.skipped else "failed")
        rank = {"passed": 0, "skipped": 1, "failed": 2}
        worst = self._worst.get(sid, "passed")
        if rank[outcome] > rank[worst]:
            worst = self._worst[sid] = outcome
        if rep.when != "teardown" and outcome == "passed":
            return
        reason = _gist(rep) if outcome != "passed" else ""
        if self.dry_run:
            return
        self.journal.record_step(sid, worst, self.run_id, self.started, rep.duration, reason)
        if rep.when == "teardown" or outcome != "passed":
            self.recorder.step_outcome(item.nodeid, worst, reason, rep.duration)

    def _hold_the_cluster(self) -> None:
        """The cluster lock, before the first step after preflight (which changes
        nothing and names unreachable nodes best): a dry run or preflight alone never
        takes it, so read-only runs are never blocked and never block. Refused: the run
        stops here (exit 4) and writes no journal (see Journal.deferred)."""
        if self.on_cluster.locked:
            try:
                self.on_cluster.ensure()
            except ClusterLocked as exc:
                self._refuse(f"the cluster lock was lost: {exc}", 1)
            return
        try:
            shown = self.on_cluster.lock(self.break_lock)
        except ClusterLocked as exc:
            self._refuse(str(exc), 4)
        for line in shown:
            self.recorder.event("cluster-lock", note=line)
            if not line.startswith("cluster lock held"):
                self._tell(line)  # a broken lock: shown as it is done

    def _refuse(self, reason: str, code: int) -> NoReturn:
        self.refused = reason
        self.current = None  # no step of ours was under way: nothing to mark interrupted
        self.recorder.event("cluster-locked", reason=reason)
        self.recorder.halted(f"refused: {reason}")
        pytest.exit(f"refused: {reason}", returncode=code)


def _failing_nodes(call: pytest.CallInfo[None], node: str | None, commands: list[Any]) -> set[str]:
    """The nodes a failed phase failed on: those its error names, else the item's node,
    else the node of the last command it ran."""
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, NodesFailed):
        return set(error.failures)
    named = getattr(error, "node", None) or getattr(getattr(error, "result", None), "node", None)
    if isinstance(named, str):
        return {named}
    if node:
        return {node}
    return {commands[-1].node} if commands else set()


def _gist(rep: pytest.TestReport) -> str:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return report.one_line(str(rep.longrepr[2]))
    return report.one_line(rep.longreprtext)

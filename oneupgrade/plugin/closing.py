"""The end of a run: the connections closed, the audit log finished and its head
signed, and what the terminal says last (the STOPPED line, how to resume, where the
journal, the audit log and the report are).
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

import pytest

from oneupgrade.audit import signature
from oneupgrade.errors import RunbookError
from oneupgrade.plugin.state import RunbookState
from oneupgrade.transport.sshconfig import resolve_route


class Closing(RunbookState):
    """The session-finish and terminal-summary hooks of a runbook run."""

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.cluster.close()
        # Speed: one connection per node for the whole run (a reconnect shows up here).
        nodes = self.cluster.nodes.values()
        self.recorder.event(
            "connections",
            opened=sum(n.connections_opened for n in nodes),
            nodes=len(self.cluster.nodes),
            per_node={n.name: n.connections_opened for n in nodes if n.connections_opened != 1},
        )
        self.recorder.finish(exitstatus)
        self.signed = self._sign_head()

    def _sign_head(self) -> signature.Signed:
        """The audit log's head (final now: no record follows) signed with the key SSH
        offers the first node; see oneupgrade.audit.signature."""
        log = self.recorder.path
        statement = signature.Statement(
            log=log.name,
            run=self.run_id,
            cluster=self.inventory.cluster,
            kind="dry-run" if self.dry_run else "run",
            records=self.recorder.audit.records,
            head=self.recorder.audit.head,
            plan=signature.plan_digest(signature.read_records(log)),
            operator=controller(),
        )
        try:
            hop = self.cluster.nodes[self.inventory.nodes[0].name].route.target
        except (RunbookError, KeyError):  # an unusable ssh config: OpenSSH's defaults
            hop = resolve_route(self.inventory.nodes[0], self.inventory.ssh, None).target
        signed = signature.sign_head(log, statement, hop)
        if not self.dry_run and signed.signature is not None:
            self.plan_match = signature.matching_plan(self.report_dir, statement.plan, self.run_id)
        return signed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        tr.write_sep("=", "oneupgrade")
        if self.failed:
            tr.write_line(f"STOPPED: {self.failed}")
            where = "rollback/" if self.cluster.procedure == "rollback" else "runbook/"
            tr.write_line(
                f"After fixing the cause: pytest {where} --inventory "
                f"{self.inventory.path} --lf   (reruns only what has not passed)"
            )
        for line in self.recorder.summary_lines():
            tr.write_line(line)
        tr.write_line(f"journal: {self.journal.path}")
        tr.write_line(f"audit log: {self.recorder.path}")
        tr.write_line(f"report: {self.html_path}")


def controller() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"

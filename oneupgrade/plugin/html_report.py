"""What the HTML report says beyond its rows: header, environment, columns, summary.

`HtmlReport` is a second pytest plugin object, registered beside the runbook session
(session.py) and reading its state. It fills pytest-html 4's hooks:

- the title and the Environment table (environment.py);
- a Node and a Reason column: where the row ran and why it failed or was skipped,
  in one line (for a passed row, what the step found: "already done: ...");
- the summary block (summary_data.py, summary_html.py), the cluster's state after
  the run read here at its end;
- a last line of defence: the row logs pass through the redactor once more.
"""

from __future__ import annotations

import html
import time
from typing import Any

import pluggy
from pytest_metadata.plugin import metadata_key

from oneupgrade.audit.redact import Redactor
from oneupgrade.plugin import report
from oneupgrade.plugin.environment import environment, title
from oneupgrade.plugin.items import node_of
from oneupgrade.plugin.state import RunbookState
from oneupgrade.plugin.summary_data import gather_after, iso, seconds, summary_data
from oneupgrade.plugin.summary_html import summary_html

hookimpl = pluggy.HookimplMarker("pytest")

AFTER_ITEM = "(after the run: read-only look at the cluster)"


class HtmlReport:
    """pytest-html hooks of a runbook run; see the module doc."""

    def __init__(self, runbook: RunbookState) -> None:
        self.runbook = runbook
        self.after: dict[str, Any] | None = None
        self.after_note = ""
        self.ended: float | None = None
        self._report_data: Any = None
        self._nodes: dict[str, str | None] = {}
        inv = runbook.inventory
        secrets = list(inv.secrets)
        if runbook.recorder.become_password:
            secrets.append(runbook.recorder.become_password)
        # The row logs are HTML-escaped text: a secret with & < > " ' is escaped there too.
        self._escaped = Redactor([html.escape(s) for s in secrets], inv.redact)

    # -- environment and title

    def _set_environment(self, config: Any) -> None:
        metadata = config.stash.get(metadata_key, None)
        if metadata is None:
            return
        ours = environment(self.runbook, self.ended)
        rest = {k: v for k, v in metadata.items() if k not in ours}
        metadata.clear()  # the same dict pytest-html holds: ours first, then pytest's own
        metadata.update(ours)
        metadata.update(rest)

    @hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: Any) -> None:
        self._set_environment(session.config)

    def pytest_html_report_title(self, report: Any) -> None:
        self._report_data = report
        report.title = title(self.runbook)
        report.set_data("initialSort", "original")  # the runbook's order, not by result

    def pytest_collection_finish(self, session: Any) -> None:
        self._nodes = {item.nodeid: node_of(item) for item in session.items}

    # -- rows

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Node</th>")
        cells.insert(4, "<th>Reason</th>")

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        node = self._nodes.get(report.nodeid)
        if node is None:
            touched = sorted({r.node for r in self.runbook.recorder.all if r.item == report.nodeid})
            node = f"cluster ({', '.join(touched)})" if touched else "cluster"
        reason = html.escape(self.reason(report))
        cells.insert(2, f'<td class="col-node">{html.escape(node)}</td>')
        cells.insert(4, f'<td class="col-reason">{reason}</td>')

    def reason(self, rep: Any) -> str:
        """Why a row failed or was skipped, in one line; for a passed row its notes."""
        redact = self.runbook.recorder.redactor.redact
        if rep.passed:
            notes = [c for h, c in rep.sections if h == "oneupgrade"]
            flat = " | ".join(" ".join(n.split()) for note in notes for n in note.splitlines())
            return redact(report.one_line(flat, 300))
        if rep.skipped and isinstance(rep.longrepr, tuple):
            return redact(report.one_line(str(rep.longrepr[2])))
        return redact(report.failure_gist(rep.longreprtext))

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        redact = self.runbook.recorder.redactor.redact
        data[:] = [self._escaped.redact(redact(chunk)) for chunk in data]

    # -- the end

    def _summary(self) -> dict[str, Any]:
        return summary_data(self.runbook, self.after, self.after_note, self.ended)

    @hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        """Before the runbook session closes the connections: look at the cluster."""
        rb = self.runbook
        if rb.dry_run:
            self.after_note = "Dry run: nothing was changed, the releases are those before."
        elif rb.failed or int(exitstatus) != 0:
            self.after_note = (
                "The run did not complete: the cluster was not asked for its state after it; "
                "the table shows what the journal knows."
            )
        elif rb.journal.campaign is None:
            self.after_note = "Preflight did not run: nothing is known about the cluster."
        else:
            rb.recorder.begin(AFTER_ITEM, None, "after")
            try:
                self.after = gather_after(rb)
            except Exception as exc:
                self.after_note = f"Could not read the cluster's state after the run: {exc}"
        data = self._summary()
        rb.recorder.event(
            "summary",
            downtime=data["downtime"],
            nodes=data["nodes"],
            hosts=data["hosts"],
            backups=data["backups"],
            stopped=data["stopped"],
        )
        self.ended = time.time()

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        # The runbook session's sessionfinish wrote the last audit record: the head is final.
        self._set_environment(session.config)
        if self._report_data is not None:
            self._report_data.title = title(self.runbook)
        prefix.append(summary_html(self._summary()))

    @hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        data = self._summary()
        dt = data["downtime"]
        tr = terminalreporter
        if dt["seconds"] is not None:
            tr.write_line(
                f"control-plane downtime: {seconds(dt['seconds'])} "
                f"({iso(dt['start'])} to {iso(dt['end'])})"
            )
        elif dt["start"] is not None:
            tr.write_line(f"control-plane downtime: began {iso(dt['start'])}, NOT ended")
        tr.write_line(f"audit log head: {data['audit_head']}")
        for line in data["signature"]:
            tr.write_line(line)

"""What the HTML report says beyond its rows: header, environment, columns, summary.

`HtmlReport` is a second pytest plugin object, registered beside the runbook session
(plugin.py) and reading its state. It fills pytest-html 4's hooks:

- the title and the Environment table (pytest-metadata's dict, which pytest-html
  renders at the end of the run, so the end time and the audit log's head go in late);
- a Node and a Reason column: where the row ran and why it failed or was skipped,
  in one line (for a passed row, what the step found: "already done: ...");
- the summary block: releases and raft roles before and after per node, hosts
  disabled and enabled again, backups with their sha256, control-plane downtime;
- a last line of defence: the row logs pass through the redactor once more.

The "after" facts are read from the cluster at the end of a run that completed,
by read-only commands only (package versions, `onezone show`, `onehost list`),
which the audit log records like any other command. A stopped run shows what
the journal knows.
"""

from __future__ import annotations

import getpass
import html
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pluggy
from pytest_metadata.plugin import metadata_key

from oneupgrade import releases
from oneupgrade.audit import signature
from oneupgrade.audit.redact import Redactor
from oneupgrade.opennebula import cli, survey
from oneupgrade.plugin import report, timeline
from oneupgrade.transport.ssh import Node

if TYPE_CHECKING:
    from oneupgrade.plugin.hooks import RunbookSession

hookimpl = pluggy.HookimplMarker("pytest")

AFTER_ITEM = "(after the run: read-only look at the cluster)"


def iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(value: float) -> str:
    whole = round(value)
    return f"{value:.1f} s" if value < 60 else f"{whole // 60} min {whole % 60:02d} s"


# -- the facts ----------------------------------------------------------------------


def downtime(facts: dict[str, Any]) -> dict[str, Any]:
    start, end = facts.get("downtime_start"), facts.get("downtime_end")
    return {
        "start": start,
        "end": end,
        "seconds": (end - start) if start is not None and end is not None else None,
    }


def backups(facts: dict[str, Any]) -> list[dict[str, str]]:
    """Every backup the campaign took: configuration copies and database dumps."""
    found = []
    for key, value in sorted(facts.items()):
        if key.startswith("config_backups/"):
            node = key.split("/", 1)[1]
            found += [
                {"node": node, "kind": "configuration", "path": p, "sha256": ""} for p in value
            ]
        elif key.startswith("custom_probes_backup/"):
            node = key.split("/", 1)[1]
            found.append({"node": node, "kind": "custom probes", "path": str(value), "sha256": ""})
        elif key.startswith("controller_copy/") and isinstance(value, dict):
            found.append(
                {
                    "node": str(value.get("node", "")),
                    "kind": f"on the controller (of {value.get('source', '')})",
                    "path": str(value.get("copy", "")),
                    "sha256": str(value.get("sha256", "")),
                }
            )
        elif key.startswith("db_backup/") and isinstance(value, dict):
            purpose = key.split("/")[1]
            found.append(
                {
                    "node": str(value.get("node", key.rsplit("/", 1)[-1])),
                    "kind": f"database ({purpose})",
                    "path": str(value.get("path", "")),
                    "sha256": str(value.get("sha256", "")),
                }
            )
    return found


def _release(node: Node) -> str | None:
    try:
        return survey.survey_node(node).release
    except Exception:
        return None


def gather_after(runbook: RunbookSession) -> dict[str, Any]:
    """Releases, raft roles and host states now; read-only commands only."""
    cluster = runbook.cluster
    after: dict[str, Any] = {"releases": {}, "raft": {}, "hosts": {}}
    # what steps 8 and 9 read at the end of their work; only the rest is asked again
    known: dict[str, Any] = dict(cluster.observed.get("releases_after", {}))
    rest = [n for n in cluster.nodes.values() if n.name not in known]
    after["releases"] = {**known, **cluster.fan_out(rest, _release)}
    seen = survey.zone_from_any(cluster.frontends, cluster.inventory.zone)
    if seen is None:
        return after
    zone, answering = seen
    after["raft"] = {s.name: s.role for s in zone.servers}
    after["zone_enabled"] = zone.enabled
    by_address = {n.address: n for n in cluster.frontends}
    leader = next(
        (by_address.get(s.address) or cluster.nodes.get(s.name) for s in zone.leaders), None
    )
    try:
        pool = cli.hosts(leader or answering)
    except Exception:
        return after
    after["hosts"] = {
        str(h.id): {"name": h.name, "state": h.state_name, "enabled": h.enabled} for h in pool
    }
    return after


# -- the HTML -----------------------------------------------------------------------

_STYLE = (
    "<style>.ou-summary table{border-collapse:collapse;margin:.4em 0 1em}"
    ".ou-summary td,.ou-summary th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    ".ou-summary .ou-stopped{color:#b00;font-weight:bold}"
    ".ou-summary code{font-size:90%}</style>"
)


def _table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    cells = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def summary_html(data: dict[str, Any]) -> str:
    """The summary block from `summary_data` (every value escaped here)."""
    e = html.escape
    parts = [_STYLE, '<div class="ou-summary" id="oneupgrade-summary">']
    if data["stopped"]:
        parts.append(f'<p class="ou-stopped">STOPPED: {e(data["stopped"])}</p>')
    else:
        parts.append(f"<p><b>Outcome:</b> {e(data['outcome'])}</p>")
    dt = data["downtime"]
    if dt["seconds"] is not None:
        when = f"{iso(dt['start'])} to {iso(dt['end'])}"
        text = (
            f"{seconds(dt['seconds'])} ({when}; "
            "first unit stopped in step 3 to healthy zone in step 8)"
        )
        if dt["end"] < data["run_started"]:
            text += ", during an earlier run of this campaign"
    elif dt["start"] is not None:
        text = f"began {iso(dt['start'])} (step 3) and has NOT ended: the control plane is down"
    else:
        text = "none: the control plane was not stopped"
    parts.append(f'<p id="ou-downtime"><b>Control-plane downtime:</b> {e(text)}</p>')
    if data["timeline"]:
        parts.append("<h3>Timeline</h3>")
        parts.append(data["timeline"])  # markup built by oneupgrade.plugin.timeline, escaped there
    parts.append("<h3>Nodes</h3>")
    parts.append(
        _table(
            ["Node", "Role", "Release before", "Release after", "Raft before", "Raft after"],
            [
                [
                    n["name"],
                    n["role"],
                    n["release_before"] or "-",
                    n["release_after"] or "-",
                    n["raft_before"] or "-",
                    n["raft_after"] or "-",
                ]
                for n in data["nodes"]
            ],
        )
    )
    if data["after_note"]:
        parts.append(f"<p><i>{e(data['after_note'])}</i></p>")
    parts.append("<h3>Hosts</h3>")
    if data["hosts"]:
        parts.append(
            _table(
                ["Host", "Disabled in step 2", "Enabled again", "State now"],
                [[h["name"], h["disabled"], h["enabled_again"], h["state"]] for h in data["hosts"]],
            )
        )
    else:
        parts.append("<p>No host was disabled by this campaign (yet).</p>")
    parts.append("<h3>Backups</h3>")
    if data["backups"]:
        parts.append(
            _table(
                ["Node", "What", "Path", "sha256"],
                [[b["node"], b["kind"], b["path"], b["sha256"] or "-"] for b in data["backups"]],
            )
        )
    else:
        parts.append("<p>No backup taken (yet).</p>")
    if data["satisfied"]:
        parts.append("<h3>Steps satisfied by earlier runs (--lf)</h3>")
        parts.append(_table(["Step", "Passed in run"], [list(p) for p in data["satisfied"]]))
    parts.append(
        f"<p><b>Audit log:</b> <code>{e(data['audit_log'])}</code>, head (sha256 of its last "
        f'line) <code id="ou-audit-head">{e(data["audit_head"])}</code>: '
        f"<code>python -m oneupgrade.audit verify --report {e(data['report_name'])}</code></p>"
    )
    if data["signature"]:
        lines = "<br>".join(e(line) for line in data["signature"])
        parts.append(f'<p id="ou-signature"><b>Signature:</b> {lines}</p>')
    parts.append("</div>")
    return "".join(parts)


# -- the plugin object ---------------------------------------------------------------


class HtmlReport:
    """pytest-html hooks of a runbook run; see the module doc."""

    def __init__(self, runbook: RunbookSession, node_of: Callable[[Any], str | None]) -> None:
        self.runbook = runbook
        self.node_of = node_of
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

    def environment(self) -> dict[str, str]:
        rb = self.runbook
        inv, journal = rb.inventory, rb.journal
        source = journal.fact("source_release") or "(not known yet: preflight reads it)"
        offered = journal.fact("offered_release") if journal.campaign is not None else None
        try:
            target = (
                f"{inv.target} (the repositories offer {offered})"
                if offered and inv.target.count(".") == 1
                else f"{inv.target} (resolves to {releases.resolve(inv.target)})"
            )
        except Exception:
            target = inv.target
        runs = (journal.campaign or {}).get("runs", [])
        earlier = [r["id"] for r in runs if r.get("id") != rb.run_id and not r.get("dry_run")]
        campaign = (journal.campaign or {}).get("id", "-")
        env = {
            "Cluster": inv.cluster,
            "Zone": str(inv.zone),
            "Operator": getpass.getuser(),
            "Controller": socket.gethostname(),
            "Run": rb.run_id,
            "Started": iso(rb.started),
            "Ended": iso(self.ended) if self.ended else "(running)",
            "Releases": f"{source} -> {target}",
            "Inventory": str(inv.path),
            "Inventory sha256": inv.sha256,
            "Mode": "DRY RUN: nothing was changed" if rb.dry_run else "upgrade",
            "Campaign": str(campaign),
            "Resumed from": ", ".join(earlier) if earlier else "no: first run of the campaign",
            "Outcome": f"STOPPED: {rb.failed}" if rb.failed else "no step failed",
            "Audit log": rb.recorder.path.name,
            "Audit log head": rb.recorder.audit.head,
        }
        if rb.signed is not None:
            env["Audit signature"] = (
                f"{rb.signed.signature.name} ({rb.signed.key})"
                if rb.signed.signature is not None
                else f"UNSIGNED: {rb.signed.why}"
            )
        redact = rb.recorder.redactor.redact
        # pytest-html puts these values into the page as HTML: escape them.
        return {k: html.escape(redact(v)) for k, v in env.items()}

    def _set_environment(self, config: Any) -> None:
        metadata = config.stash.get(metadata_key, None)
        if metadata is None:
            return
        ours = self.environment()
        rest = {k: v for k, v in metadata.items() if k not in ours}
        metadata.clear()  # the same dict pytest-html holds: ours first, then pytest's own
        metadata.update(ours)
        metadata.update(rest)

    def title(self) -> str:
        rb = self.runbook
        source = rb.journal.fact("source_release") or "?"
        mode = "DRY RUN " if rb.dry_run else ""
        inv = rb.inventory
        return f"{mode}oneupgrade {inv.cluster}: {source} -> {inv.target} ({rb.run_id})"

    @hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: Any) -> None:
        self._set_environment(session.config)

    def pytest_html_report_title(self, report: Any) -> None:
        self._report_data = report
        report.title = self.title()
        report.set_data("initialSort", "original")  # the runbook's order, not by result

    def pytest_collection_finish(self, session: Any) -> None:
        self._nodes = {item.nodeid: self.node_of(item) for item in session.items}

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

    def timeline(self, facts: dict[str, Any]) -> str:
        """This run's picture: a lane per node, a bar per step's work, the outage band."""
        rb = self.runbook
        found = timeline.bars(rb.recorder.all, rb.failed_nodes, rb.step_names)
        if not found:
            return ""
        end = max([self.ended or time.time(), *(b.end for b in found)])
        dt = downtime(facts)
        outage = None
        if dt["start"] is not None and (dt["end"] is None or dt["end"] >= rb.started):
            outage = (float(dt["start"]), None if dt["end"] is None else float(dt["end"]))
        return timeline.svg(found, list(rb.cluster.nodes), rb.started, end, outage)

    def signature_lines(self) -> list[str]:
        """The audit log's signature and, for a real run, the signed plan it ran."""
        rb = self.runbook
        signed = rb.signed
        if signed is None:  # before the end of the run
            return []
        log = rb.recorder.path
        if signed.signature is None:
            return [f"audit log UNSIGNED: {signed.why}"]
        lines = [
            f"audit log signed: {signed.signature.name} ({signed.key or 'key'}, namespace "
            f"{signature.NAMESPACE}); check: python -m oneupgrade.audit verify {log} "
            "--allowed-signers FILE"
        ]
        if rb.dry_run:
            lines.append(f"plan {signed.statement.plan}: a real run that does it says so")
        elif rb.plan_match is not None:
            lines.append(f"plan: the one signed by dry run {rb.plan_match.stem}")
        else:
            lines.append("plan: matches no signed dry run in the report directory")
        return lines

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
        data = self.summary_data()
        rb.recorder.event(
            "summary",
            downtime=data["downtime"],
            nodes=data["nodes"],
            hosts=data["hosts"],
            backups=data["backups"],
            stopped=data["stopped"],
        )
        self.ended = time.time()

    def summary_data(self) -> dict[str, Any]:
        rb = self.runbook
        facts = rb.journal.facts if rb.journal.campaign is not None else {}
        after = self.after or {}
        before_rel = facts.get("releases_before") or {}
        raft_before = facts.get("raft_before") or {}
        known_after = dict(facts.get("releases_after_frontends") or {})
        nodes = []
        for host in rb.inventory.nodes:
            release_after = (after.get("releases") or {}).get(host.name)
            if release_after is None and not rb.dry_run:
                release_after = known_after.get(host.name)
            if rb.dry_run:
                release_after = before_rel.get(host.name)
            nodes.append(
                {
                    "name": host.name,
                    "role": host.role,
                    "release_before": before_rel.get(host.name),
                    "release_after": release_after,
                    "raft_before": raft_before.get(host.name),
                    "raft_after": (after.get("raft") or {}).get(host.name),
                }
            )
        disabled = facts.get("hosts_enabled_before") or {}
        now = after.get("hosts") or {}
        hosts = []
        for host_id, name in sorted(disabled.items(), key=lambda kv: int(kv[0])):
            state = now.get(host_id)
            if state is not None:
                again = "yes" if state["enabled"] else "no"
            else:
                again = "yes" if facts.get(f"hypervisor_done/{name}") else "not yet"
            hosts.append(
                {
                    "id": host_id,
                    "name": name,
                    "disabled": "yes",
                    "enabled_again": again,
                    "state": state["state"] if state else "-",
                }
            )
        return {
            "stopped": rb.failed,
            "outcome": "dry run completed" if rb.dry_run else "completed, no step failed",
            "run_started": rb.started,
            "downtime": downtime(facts),
            "nodes": nodes,
            "after_note": self.after_note,
            "hosts": hosts,
            "backups": backups(facts),
            "satisfied": sorted(rb.satisfied.items()),
            "audit_log": str(rb.recorder.path),
            "audit_head": rb.recorder.audit.head,
            "signature": self.signature_lines(),
            "timeline": self.timeline(facts),
            "report_name": str(rb.html_path),
        }

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        # The runbook session's sessionfinish wrote the last audit record: the head is final.
        self._set_environment(session.config)
        if self._report_data is not None:
            self._report_data.title = self.title()
        prefix.append(summary_html(self.summary_data()))

    @hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        data = self.summary_data()
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

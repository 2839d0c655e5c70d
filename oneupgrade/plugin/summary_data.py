"""The facts of the report's summary: releases and raft roles before and after per
node, hosts disabled and enabled again, backups with their sha256, control-plane
downtime, the timeline and the audit log's signature.

The "after" facts are read from the cluster at the end of a run that completed,
by read-only commands only (package versions, `onezone show`, `onehost list`),
which the audit log records like any other command. A stopped run shows what
the journal knows. summary_html.py renders `summary_data` as HTML.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from oneupgrade.audit import signature
from oneupgrade.opennebula import onehost, survey
from oneupgrade.plugin import timeline
from oneupgrade.plugin.state import RunbookState
from oneupgrade.transport.node import Node


def iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(value: float) -> str:
    whole = round(value)
    return f"{value:.1f} s" if value < 60 else f"{whole // 60} min {whole % 60:02d} s"


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
                    "bytes": str(value.get("bytes", "")),
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


def gather_after(runbook: RunbookState) -> dict[str, Any]:
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
        pool = onehost.hosts(leader or answering)
    except Exception:
        return after
    after["hosts"] = {
        str(h.id): {"name": h.name, "state": h.state_name, "enabled": h.enabled} for h in pool
    }
    return after


def summary_data(
    rb: RunbookState, after: dict[str, Any] | None, after_note: str, ended: float | None
) -> dict[str, Any]:
    """Everything the summary shows; `after`: what `gather_after` read, if it ran."""
    facts = rb.journal.facts if rb.journal.campaign is not None else {}
    return {
        "stopped": rb.failed,
        "outcome": "dry run completed" if rb.dry_run else "completed, no step failed",
        "run_started": rb.started,
        "downtime": downtime(facts),
        "nodes": _nodes(rb, facts, after or {}),
        "after_note": after_note,
        "hosts": _hosts(facts, after or {}),
        "backups": backups(facts),
        "satisfied": sorted(rb.satisfied.items()),
        "audit_log": str(rb.recorder.path),
        "audit_head": rb.recorder.audit.head,
        "signature": signature_lines(rb),
        "timeline": timeline_markup(rb, facts, ended),
        "report_name": str(rb.html_path),
    }


def _nodes(rb: RunbookState, facts: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each node's release and raft role, before and after."""
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
    return nodes


def _hosts(facts: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The hosts step 2 disabled: enabled again or not, and their state now."""
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
    return hosts


def signature_lines(rb: RunbookState) -> list[str]:
    """The audit log's signature and, for a real run, the signed plan it ran."""
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


def timeline_markup(rb: RunbookState, facts: dict[str, Any], ended: float | None) -> str:
    """This run's picture: a lane per node, a bar per step's work, the outage band."""
    found = timeline.bars(rb.recorder.all, rb.failed_nodes, rb.step_names)
    if not found:
        return ""
    end = max([ended or time.time(), *(b.end for b in found)])
    dt = downtime(facts)
    outage = None
    if dt["start"] is not None and (dt["end"] is None or dt["end"] >= rb.started):
        outage = (float(dt["start"]), None if dt["end"] is None else float(dt["end"]))
    return timeline.svg(found, list(rb.cluster.nodes), rb.started, end, outage)

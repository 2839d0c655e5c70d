"""The HTML report's title and its Environment table: which cluster, which run, by
whom, from which release to which, and the audit log's head (pytest-metadata's dict,
which pytest-html renders at the end of the run, so the end time and the head go in
late).
"""

from __future__ import annotations

import getpass
import html
import socket

from oneupgrade import releases
from oneupgrade.plugin.state import RunbookState
from oneupgrade.plugin.summary_data import iso


def environment(rb: RunbookState, ended: float | None) -> dict[str, str]:
    inv, journal = rb.inventory, rb.journal
    source = journal.fact("source_release") or "(not known yet: preflight reads it)"
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
        "Ended": iso(ended) if ended else "(running)",
        "Releases": f"{source} -> {_target(rb)}",
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


def _target(rb: RunbookState) -> str:
    """The target, with the release it stands for."""
    inv, journal = rb.inventory, rb.journal
    offered = journal.fact("offered_release") if journal.campaign is not None else None
    try:
        return (
            f"{inv.target} (the repositories offer {offered})"
            if offered and inv.target.count(".") == 1
            else f"{inv.target} (resolves to {releases.resolve(inv.target)})"
        )
    except Exception:
        return inv.target


def title(rb: RunbookState) -> str:
    source = rb.journal.fact("source_release") or "?"
    mode = "DRY RUN " if rb.dry_run else ""
    inv = rb.inventory
    return f"{mode}oneupgrade {inv.cluster}: {source} -> {inv.target} ({rb.run_id})"

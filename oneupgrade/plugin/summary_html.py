"""The summary block of the HTML report, from `summary_data` (summary_data.py):
outcome, control-plane downtime, timeline, nodes, hosts, backups, the steps an earlier
run satisfied, the audit log and its signature. Every value is escaped here.
"""

from __future__ import annotations

import html
from typing import Any

from oneupgrade.plugin.summary_data import iso, seconds

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
    parts.append(f'<p id="ou-downtime"><b>Control-plane downtime:</b> {e(_downtime(data))}</p>')
    if data["timeline"]:
        parts.append("<h3>Timeline</h3>")
        parts.append(data["timeline"])  # markup built by oneupgrade.plugin.timeline, escaped there
    parts += _nodes(data)
    parts += _hosts_and_backups(data)
    if data["satisfied"]:
        parts.append("<h3>Steps satisfied by earlier runs (--lf)</h3>")
        parts.append(_table(["Step", "Passed in run"], [list(p) for p in data["satisfied"]]))
    parts += _audit(data)
    parts.append("</div>")
    return "".join(parts)


def _downtime(data: dict[str, Any]) -> str:
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
    return text


def _nodes(data: dict[str, Any]) -> list[str]:
    parts = ["<h3>Nodes</h3>"]
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
        parts.append(f"<p><i>{html.escape(data['after_note'])}</i></p>")
    return parts


def _hosts_and_backups(data: dict[str, Any]) -> list[str]:
    parts = ["<h3>Hosts</h3>"]
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
                ["Node", "What", "Path", "Size (bytes)", "sha256"],
                [
                    [b["node"], b["kind"], b["path"], b.get("bytes") or "-", b["sha256"] or "-"]
                    for b in data["backups"]
                ],
            )
        )
    else:
        parts.append("<p>No backup taken (yet).</p>")
    return parts


def _audit(data: dict[str, Any]) -> list[str]:
    e = html.escape
    parts = [
        f"<p><b>Audit log:</b> <code>{e(data['audit_log'])}</code>, head (sha256 of its last "
        f'line) <code id="ou-audit-head">{e(data["audit_head"])}</code>: '
        f"<code>python -m oneupgrade.audit verify --report {e(data['report_name'])}</code></p>"
    ]
    if data["signature"]:
        lines = "<br>".join(e(line) for line in data["signature"])
        parts.append(f'<p id="ou-signature"><b>Signature:</b> {lines}</p>')
    return parts

"""HTML fragments of the audit report: the commands of a row, folded where long.

pytest-html renders the rows; this module only turns recorded commands into
escaped HTML (remote output is never trusted as markup).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from oneupgrade.recorder import Record

FOLD_LINES = 40  # longer outputs are folded, their tail stays visible


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _output(label: str, text: str) -> str:
    if not text:
        return ""
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= FOLD_LINES:
        return f'<div class="ou-{label}"><b>{label}</b><pre>{html.escape(text)}</pre></div>'
    head = "\n".join(lines[:-FOLD_LINES])
    tail = "\n".join(lines[-FOLD_LINES:])
    return (
        f'<div class="ou-{label}"><b>{label}</b> ({len(lines)} lines)'
        f"<details><summary>first {len(lines) - FOLD_LINES} lines</summary>"
        f"<pre>{html.escape(head)}</pre></details><pre>{html.escape(tail)}</pre></div>"
    )


def commands_html(records: Iterable[object], heading: str) -> str:
    parts = [f'<div class="ou-commands"><h4>{html.escape(heading)}</h4>']
    for rec in records:
        assert isinstance(rec, Record)
        if rec.planned:
            status = "PLANNED (dry run, not executed)"
        elif rec.error:
            status = f"{rec.error} (exit {rec.exit_status})"
        else:
            status = f"exit {rec.exit_status}"
        flag = " [changes the node]" if rec.mutating else ""
        parts.append(
            '<div class="ou-command">'
            f"<code>{html.escape(rec.node)}$ {html.escape(rec.command)}</code>"
            f"<div>{status}{flag}, {rec.duration:.3f} s, started {_clock(rec.started)}</div>"
            f"{_output('stdout', rec.stdout)}{_output('stderr', rec.stderr)}</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def one_line(text: str, limit: int = 300) -> str:
    """The gist of a failure or skip in one line: the message, not the traceback."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # an assertion's message is on its first "E" line; a pytest.fail text starts the message
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    gist = errors[0] if errors else lines[0]
    for prefix in ("Skipped: ", "AssertionError: ", "Failed: "):
        gist = gist.removeprefix(prefix)
    return gist if len(gist) <= limit else gist[: limit - 3] + "..."


def notes_html(notes: list[str]) -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<div class="ou-notes"><b>what the step found and did</b><ul>{items}</ul></div>'

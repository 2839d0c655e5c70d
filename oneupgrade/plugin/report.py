"""HTML fragments of the audit report: the commands of a row, folded where long.

pytest-html renders the rows; this module only turns recorded commands into
escaped HTML (remote output is never trusted as markup).
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oneupgrade.audit.recorder import Record

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


def failure_gist(text: str, limit: int = 400) -> str:
    """`one_line`, plus what a failure names: each failed node and its command's last stderr line.

    "failed on 1 node(s): fe2 | fe2: fe2 exited 100 | stderr: E: Unable to locate ..."
    """
    lines = [line.strip().removeprefix("E ").strip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    gist = one_line(text, limit)
    parts = [gist]
    for i, line in enumerate(lines):
        if line.startswith("During handling of the above exception"):
            break  # the same failure again, chained
        if line.startswith("- ") and gist.startswith("failed on"):
            parts.append(line[2:])
        elif line == "stderr (last lines):":
            tail = []
            for following in lines[i + 1 :]:
                if following.startswith(("stdout", "completed on:", "- ")):
                    break
                tail.append(following)
            if tail:
                parts.append(f"stderr: {tail[-1]}")
    joined = " | ".join(dict.fromkeys(p for p in parts if p))
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def notes_html(notes: list[str]) -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<div class="ou-notes"><b>what the step found and did</b><ul>{items}</ul></div>'


# -- the report files -------------------------------------------------------------


def allocate_stem(directory: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """A file stem under `directory` that no earlier run used: `stem`, else `stem-2`, ...

    The HTML file is created at once (empty, O_EXCL) as a claim, so two runs started
    in the same second never share a name; pytest-html writes the report over it
    at the end of the run. No other file with the stem and one of `suffixes` may exist.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        if any((directory / f"{candidate}{s}").exists() for s in suffixes):
            continue
        try:
            # 0600 whatever the umask: pytest-html writes over it, keeping the mode
            fd = os.open(directory / f"{candidate}{suffixes[0]}", os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise RuntimeError(f"{directory}: no free report name for {stem}")


_BLOB = re.compile(r'data-jsonblob="([^"]*)"')


def read_report(path: Path) -> dict[str, Any]:
    """The data a pytest-html 4 report embeds (environment, title, tests by node id)."""
    match = _BLOB.search(Path(path).read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{path}: not a pytest-html report (no data-jsonblob)")
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


# -- redaction of what pytest itself shows ------------------------------------------


def redact_test_report(rep: Any, redact: Callable[[str], str]) -> None:
    """Pass a pytest TestReport's failure text and captured sections through `redact`.

    A CommandFailed carries the command's stdout and stderr into the longrepr, which
    the terminal, the HTML row and the journal's reason all show. The longrepr is
    replaced by its redacted text only when redaction changed something, so the
    usual rendering is kept otherwise.
    """
    longrepr = rep.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        rep.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2])))
    elif longrepr is not None:
        text = rep.longreprtext
        clean = redact(text)
        if clean != text:
            rep.longrepr = clean
    rep.sections = [(header, redact(content)) for header, content in rep.sections]

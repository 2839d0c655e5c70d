"""The report's file names, its one-line failure reasons and the redaction of pytest's texts."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from oneupgrade.audit import verify as audit
from oneupgrade.audit.log import AuditLog
from oneupgrade.audit.redact import Redactor
from oneupgrade.plugin.report import allocate_stem, failure_gist, read_report, redact_test_report


def test_a_report_name_is_never_reused(tmp_path: Path) -> None:
    suffixes = (".html", ".jsonl")
    assert allocate_stem(tmp_path, "20250101T000000Z", suffixes) == "20250101T000000Z"
    assert (tmp_path / "20250101T000000Z.html").exists()  # claimed at once
    assert allocate_stem(tmp_path, "20250101T000000Z", suffixes) == "20250101T000000Z-2"
    # a log without its report (a run killed early) also holds the name
    (tmp_path / "20250101T000001Z.jsonl").write_text("")
    assert allocate_stem(tmp_path, "20250101T000001Z", suffixes) == "20250101T000001Z-2"


@dataclass
class FakeReport:
    longrepr: Any
    sections: list[tuple[str, str]] = field(default_factory=list)

    @property
    def longreprtext(self) -> str:
        return str(self.longrepr)


def test_failure_text_skip_reason_and_sections_are_redacted() -> None:
    redact = Redactor(["hunter22"], [r"tok-\d+"]).redact
    failed = FakeReport(
        "fe2 exited 1\n  stderr (last lines):\n    E: https://u:pw@repo/x 401 hunter22 tok-42",
        [("Captured stdout call", "password hunter22")],
    )
    redact_test_report(failed, redact)
    text = failed.longreprtext + repr(failed.sections)
    for secret in ("hunter22", "tok-42", "u:pw"):
        assert secret not in text
    skipped = FakeReport(("file.py", 3, "Skipped: not run: tok-7 failed"))
    redact_test_report(skipped, redact)
    assert skipped.longrepr == ("file.py", 3, "Skipped: not run: ******** failed")
    clean = FakeReport(object())
    original = clean.longrepr
    redact_test_report(clean, redact)
    assert clean.longrepr is original  # untouched when nothing was hidden


def test_the_failure_gist_names_the_node_and_the_stderr() -> None:
    text = (
        "failed on 1 node(s): fe2\n- fe2: fe2 exited 100\n  $ apt-get install x\n"
        "  stderr (last lines):\n    E: broken\n    E: Unable to locate x\n  stdout: (empty)\n"
        "completed on: fe3\n\nDuring handling of the above exception, another exception "
        "occurred:\nfailed on 1 node(s): fe2\n"
    )
    assert failure_gist(text) == (
        "failed on 1 node(s): fe2 | fe2: fe2 exited 100 | stderr: E: Unable to locate x"
    )
    assert failure_gist("Skipped: later") == "later"


def _report_file(tmp_path: Path, environment: dict[str, str]) -> Path:
    blob = html.escape(json.dumps({"environment": environment, "tests": {}}))
    path = tmp_path / "run.html"
    path.write_text(f'<html><div id="data-container" data-jsonblob="{blob}"></div></html>')
    return path


def test_verify_takes_the_head_from_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with AuditLog(tmp_path / "run.jsonl", "run", Redactor()) as log:
        log.event("run-start")
        log.event("run-end")
        head = log.head
    report = _report_file(tmp_path, {"Audit log": "run.jsonl", "Audit log head": head})
    assert read_report(report)["environment"]["Audit log head"] == head
    assert audit.main(["verify", "--report", str(report)]) == 0
    assert audit.main(["verify", "--head", head, str(tmp_path / "run.jsonl")]) == 0
    lines = (tmp_path / "run.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "run.jsonl").write_text(lines[0])  # the last record cut off
    assert audit.main(["verify", str(tmp_path / "run.jsonl")]) == 0  # the chain alone: intact
    assert audit.main(["verify", "--report", str(report)]) == 1
    assert "not the head the run recorded" in capsys.readouterr().out
    assert audit.main(["verify", "--report", str(_report_file(tmp_path, {}))]) == 2

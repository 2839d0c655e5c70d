"""The audit log: every command, step and event of a run, as hash-chained JSON lines.

    log = AuditLog(Path("reports/lab-10/run-....jsonl"), run_id, redactor)
    log.event("run-start", operator="jdoe", inventory_sha256=inv.sha256)
    log.command("03-stop", "fe2", "systemctl stop opennebula", 0, t0, 1.2, "", "", mutating=True)
    log.step("03-stop", "fe2", "passed", t0, 1.3)

Each line is one JSON record::

    {"seq": 7, "run": "...", "ts": "2025-01-01T10:00:00.123+00:00", "kind": "command",
     "step": ..., "node": ..., "command": ..., "exit_status": 0, "started": ..., "duration": ...,
     "mutating": true, "planned": false, "error": null,
     "stdout": ..., "stdout_sha256": ..., "stdout_bytes": ..., "stdout_truncated": false,
     "stderr": ..., "stderr_sha256": ..., "stderr_bytes": ..., "stderr_truncated": false,
     "prev": "<sha256 of the previous line's bytes, without its newline; 64 zeros first>"}

- Text is redacted before it is hashed or written: no secret reaches the disk.
- `stdout`/`stderr` keep the last 64 KiB (the end of an output is where the error
  is); `*_sha256` and `*_bytes` are of the whole redacted stream.
- A record is one `write` of one line, then `fsync`: a killed run leaves a valid
  prefix. Appends are serialised by a lock (commands come from a thread pool).
- Editing, removing, inserting or reordering a line breaks the chain, which
  `verify_log` reports with line numbers. A chain cannot show that its last lines
  were cut off or that the last line was rewritten: `AuditLog.head` (the hash of
  the last line) goes in the HTML report, and `verify_log(path, head=...)` checks it.

Command line::

    python -m oneupgrade.audit verify reports/lab-10/*.jsonl
    python -m oneupgrade.audit verify --report reports/lab-10/RUN.html   # + the head it recorded
    python -m oneupgrade.audit verify --head HASH reports/lab-10/RUN.jsonl
    python -m oneupgrade.audit verify --allowed-signers board_signers RUN.jsonl  # signed head

The signed head is `oneupgrade.audit.signature`'s.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from oneupgrade.audit import signature
from oneupgrade.audit.redact import Redactor
from oneupgrade.errors import RunbookError

__all__ = ["GENESIS", "OUTPUT_CAP", "AuditError", "AuditLog", "main", "verify_log"]

GENESIS = "0" * 64
OUTPUT_CAP = 64 * 1024
_RESERVED = frozenset({"seq", "run", "ts", "kind", "prev"})


class AuditError(RunbookError):
    """The audit log cannot be appended to."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _serialise(record: dict[str, Any]) -> bytes:
    # ASCII: any byte that came off a node (even undecodable) round-trips exactly.
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str).encode()


class AuditLog:
    """Appends hash-chained, redacted records to a JSONL file; see the module doc."""

    def __init__(self, path: Path, run_id: str, redactor: Redactor) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.redactor = redactor
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq, self._prev = _tail_state(self.path)
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600
        )

    # ---- records

    def command(
        self,
        step: str,
        node: str,
        command: str,
        exit_status: int | None,
        started: float,
        duration: float,
        stdout: str,
        stderr: str,
        *,
        mutating: bool,
        planned: bool = False,
        error: str | None = None,
    ) -> dict[str, Any]:
        """One remote command (run, or only planned in a dry run)."""
        r = self.redactor.redact
        fields: dict[str, Any] = {
            "step": step,
            "node": node,
            "command": r(command),
            "exit_status": exit_status,
            "started": started,
            "duration": duration,
            "mutating": mutating,
            "planned": planned,
            "error": r(error) if error is not None else None,
            **_stream("stdout", r(stdout)),
            **_stream("stderr", r(stderr)),
        }
        return self._append("command", fields)

    def step(
        self,
        step: str,
        node: str | None,
        outcome: str,
        started: float,
        duration: float,
        reason: str = "",
    ) -> dict[str, Any]:
        """The outcome of one step on one node (or of a cluster-wide step: node None)."""
        fields = {
            "step": step,
            "node": node,
            "outcome": outcome,
            "started": started,
            "duration": duration,
            "reason": self.redactor.redact(reason),
        }
        return self._append("step", fields)

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Anything else: run start and end, facts learnt. String values are redacted."""
        clash = _RESERVED & fields.keys()
        if clash:
            raise ValueError(f"audit event fields may not be named {', '.join(sorted(clash))}")
        return self._append(kind, {k: self._redact_value(v) for k, v in fields.items()})

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redactor.redact(value)
        if isinstance(value, dict):
            return {str(k): self._redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._redact_value(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.redactor.redact(str(value))

    def _append(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._fd is None:
                raise AuditError(f"{self.path}: the audit log is closed")
            record: dict[str, Any] = {
                "seq": self._seq + 1,
                "run": self.run_id,
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "kind": kind,
                **fields,
                "prev": self._prev,
            }
            line = _serialise(record)
            data = memoryview(line + b"\n")
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            os.fsync(self._fd)
            self._seq += 1
            self._prev = _sha256(line)
        return record

    # ---- state

    @property
    def head(self) -> str:
        """sha256 of the last line written (64 zeros for an empty log): anchor it elsewhere."""
        with self._lock:
            return self._prev

    @property
    def records(self) -> int:
        """How many records the file holds (this run's and earlier ones)."""
        with self._lock:
            return self._seq

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _stream(name: str, text: str) -> dict[str, Any]:
    data = _encode(text)
    truncated = len(data) > OUTPUT_CAP
    kept = data[-OUTPUT_CAP:].decode("utf-8", "ignore") if truncated else text
    return {
        name: kept,
        f"{name}_sha256": _sha256(data),
        f"{name}_bytes": len(data),
        f"{name}_truncated": truncated,
    }


def _tail_state(path: Path) -> tuple[int, str]:
    """(last seq, sha256 of the last line) of an existing log, to continue its chain."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0, GENESIS
    if size == 0:
        return 0, GENESIS
    with path.open("rb") as f:
        chunk = 64 * 1024
        pos, tail = size, b""
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
            if tail.count(b"\n") >= 2 or pos == 0:
                break
    if not tail.endswith(b"\n"):
        raise AuditError(
            f"{path}: the last record is incomplete (a run was killed while writing it); "
            "keep the file as evidence and write to a new log"
        )
    last = tail[:-1].rsplit(b"\n", 1)[-1]
    try:
        seq = json.loads(last)["seq"]
        if not isinstance(seq, int):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise AuditError(
            f"{path}: the last line is not an audit record; check it with "
            "`python -m oneupgrade.audit verify` and write to a new log"
        ) from None
    return seq, _sha256(last)


# --------------------------------------------------------------------------- verify


def verify_log(path: Path, *, head: str | None = None) -> list[str]:
    """The problems of a log ("line N: ..."); empty when the chain is intact.

    `head`: the hash of the last line as recorded elsewhere (the report), which
    also detects lines cut off the end. Raises OSError when the file cannot be read.
    """
    return _verify(Path(path), head)[1]


def _verify(path: Path, head: str | None = None) -> tuple[int, list[str]]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    incomplete = lines[-1] != b""
    if not incomplete:
        lines.pop()
    problems: list[str] = []
    prev = GENESIS
    expected_seq: int | None = 1
    records = 0
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            if incomplete and number == len(lines):
                problems.append(
                    f"line {number}: incomplete last record (the run was killed while writing it)"
                )
            else:
                problems.append(f"line {number}: not a JSON record")
            prev, expected_seq = _sha256(line), None
            continue
        records += 1
        if record.get("prev") != prev:
            if number == 1:
                problems.append(
                    "line 1: chain broken: the first record's prev is not 64 zeros "
                    "(lines were removed from the start, or it was edited)"
                )
            else:
                problems.append(
                    f"line {number}: chain broken: prev is not the sha256 of line {number - 1} "
                    f"(line {number - 1} was edited, or lines were removed, inserted or "
                    "reordered here)"
                )
        seq = record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            problems.append(f"line {number}: no seq number")
            expected_seq = None
        else:
            if expected_seq is not None and seq != expected_seq:
                problems.append(
                    f"line {number}: seq {seq} where {expected_seq} was expected "
                    "(records missing, inserted or reordered)"
                )
            expected_seq = seq + 1
        for key in ("run", "ts", "kind"):
            if key not in record:
                problems.append(f"line {number}: no {key!r} field")
        if record.get("kind") == "command":
            for stream in ("stdout", "stderr"):
                text = record.get(stream)
                if isinstance(text, str) and not record.get(f"{stream}_truncated"):
                    if _sha256(_encode(text)) != record.get(f"{stream}_sha256"):
                        problems.append(
                            f"line {number}: {stream} does not match {stream}_sha256 "
                            "(the output was edited)"
                        )
        prev = _sha256(line)
    if head is not None and prev != head:
        problems.append(
            f"line {len(lines)}: the last line is not the head the run recorded "
            "(lines were cut off the end, or the last line was edited)"
        )
    return records, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oneupgrade.audit", description="Check oneupgrade audit logs."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check that each log's hash chain is intact")
    verify.add_argument("files", nargs="*", type=Path, metavar="FILE")
    verify.add_argument(
        "--head",
        metavar="HASH",
        help="the sha256 of the last line as the run recorded it (detects a cut-off end)",
    )
    verify.add_argument(
        "--allowed-signers",
        type=Path,
        metavar="F",
        help="also check the signed head (RUN.head, RUN.head.sig) against OpenSSH's "
        "allowed signers file F and name the signer",
    )
    verify.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="read the head from the run's HTML report (and, without FILE, check its log)",
    )
    args = parser.parse_args(argv)
    head: str | None = args.head
    if args.report is not None:
        try:
            head_in_report, log_name = _from_report(args.report)
        except (OSError, ValueError) as exc:
            print(f"error: {args.report}: {exc}", file=sys.stderr)
            return 2
        if head is not None and head != head_in_report:
            print(f"error: --head {head} differs from the report's {head_in_report}")
            return 2
        head = head_in_report
        if not args.files:
            args.files = [args.report.parent / log_name]
    if not args.files:
        parser.error("verify: give FILE, or --report HTML")
    if head is not None and len(args.files) != 1:
        parser.error("verify: --head and --report check one log")

    status = 0
    for file in args.files:
        signer = ""
        try:
            if args.allowed_signers is not None:
                signer, signed_head = _signed(file, args.allowed_signers)
                if head is not None and head != signed_head:
                    print(f"{file}: the signed head differs from the head given")
                    status = max(status, 1)
                    continue
                head = signed_head
            records, problems = _verify(file, head)
        except FileNotFoundError:
            print(f"error: {file}: no such file", file=sys.stderr)
            status = 2
            continue
        except IsADirectoryError:
            print(f"error: {file}: is a directory, not an audit log", file=sys.stderr)
            status = 2
            continue
        except OSError as exc:
            print(f"error: {file}: cannot be read: {exc.strerror}", file=sys.stderr)
            status = 2
            continue
        except ValueError as exc:  # the signature or its statement
            print(f"{file}: {exc}")
            print(f"FAILED: {file} (signature)")
            status = max(status, 1)
            continue
        if problems:
            for problem in problems:
                print(f"{file}: {problem}")
            print(f"FAILED: {file} ({len(problems)} problems in {records} records)")
            status = max(status, 1)
        else:
            anchored = ", ends at the recorded head" if head is not None else ""
            if signer:
                anchored = f", ends at the head signed by {signer}"
            print(f"ok: {file} ({records} records{anchored})")
    return status


def _signed(file: Path, allowed_signers: Path) -> tuple[str, str]:
    """(signer, signed head) of `file`; ValueError when the signature, or the signed
    statement's log name, record count or plan, does not fit the log."""
    if not allowed_signers.is_file():
        raise ValueError(f"--allowed-signers {allowed_signers}: no such file")
    if not file.is_file():
        raise FileNotFoundError(file)
    statement, principal = signature.verify_signature(file, allowed_signers)
    if statement.log != file.name:
        raise ValueError(f"the signed statement is of {statement.log}, not of {file.name}")
    records = signature.read_records(file)
    if statement.records != len(records):
        raise ValueError(
            f"the log holds {len(records)} records where {statement.records} were signed"
        )
    if statement.plan != signature.plan_digest(records):
        raise ValueError("the log's changing commands are not the plan that was signed")
    what = "dry run" if statement.kind == "dry-run" else "run"
    return f"{principal} ({what} {statement.run} of {statement.cluster})", statement.head


def _from_report(report: Path) -> tuple[str, str]:
    """(head, log file name) as a pytest-html report's Environment table holds them."""
    match = re.search(r'data-jsonblob="([^"]*)"', report.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError("not a pytest-html report (no data-jsonblob)")
    environment = json.loads(html.unescape(match.group(1))).get("environment") or {}
    head, log = environment.get("Audit log head"), environment.get("Audit log")
    if not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{64}", head):
        raise ValueError("the report records no audit log head")
    return head, html.unescape(str(log))


if __name__ == "__main__":
    sys.exit(main())

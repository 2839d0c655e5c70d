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

Verifying (`verify_log` and `python -m oneupgrade.audit verify`) is
`oneupgrade.audit.verify`'s; the signed head is `oneupgrade.audit.signature`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from oneupgrade.audit.redact import Redactor
from oneupgrade.errors import RunbookError

__all__ = ["GENESIS", "OUTPUT_CAP", "AuditError", "AuditLog", "encode_text", "sha256_hex"]

GENESIS = "0" * 64
OUTPUT_CAP = 64 * 1024
_RESERVED = frozenset({"seq", "run", "ts", "kind", "prev"})


class AuditError(RunbookError):
    """The audit log cannot be appended to."""


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of `data`: of a line (the chain) or of a whole stream."""
    return hashlib.sha256(data).hexdigest()


def encode_text(text: str) -> bytes:
    """A stream's bytes as they are hashed and counted."""
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
            self._prev = sha256_hex(line)
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
    data = encode_text(text)
    truncated = len(data) > OUTPUT_CAP
    kept = data[-OUTPUT_CAP:].decode("utf-8", "ignore") if truncated else text
    return {
        name: kept,
        f"{name}_sha256": sha256_hex(data),
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
    return seq, sha256_hex(last)

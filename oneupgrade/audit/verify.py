"""Checking an audit log (`oneupgrade.audit.log`): its hash chain, its head, its signature.

`verify_log` reports every problem with its line number: an edited, removed,
inserted or reordered line breaks the chain. A chain cannot show that its last lines
were cut off or that the last line was rewritten: the head the run recorded (in its
HTML report, or signed by `oneupgrade.audit.signature`) shows it.

Command line::

    python -m oneupgrade.audit verify reports/lab-10/*.jsonl
    python -m oneupgrade.audit verify --report reports/lab-10/RUN.html   # + the head it recorded
    python -m oneupgrade.audit verify --head HASH reports/lab-10/RUN.jsonl
    python -m oneupgrade.audit verify --allowed-signers board_signers RUN.jsonl  # signed head
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oneupgrade.audit import signature
from oneupgrade.audit.log import GENESIS, encode_text, sha256_hex

__all__ = ["main", "verify_log"]


def verify_log(path: Path, *, head: str | None = None) -> list[str]:
    """The problems of a log ("line N: ..."); empty when the chain is intact.

    `head`: the hash of the last line as recorded elsewhere (the report), which
    also detects lines cut off the end. Raises OSError when the file cannot be read.
    """
    return _verify(Path(path), head)[1]


def _verify(path: Path, head: str | None = None) -> tuple[int, list[str]]:
    """(how many records, the problems) of the log at `path`."""
    lines = path.read_bytes().split(b"\n")
    incomplete = lines[-1] != b""
    if not incomplete:
        lines.pop()
    problems: list[str] = []
    prev = GENESIS
    expected_seq: int | None = 1
    records = 0
    for number, line in enumerate(lines, 1):
        record = _decode(line)
        if record is None:
            problems.append(_unreadable(number, incomplete and number == len(lines)))
            prev, expected_seq = sha256_hex(line), None
            continue
        records += 1
        problems += _chain_problems(number, record, prev)
        seq_problems, expected_seq = _seq_problems(number, record, expected_seq)
        problems += seq_problems
        problems += _field_problems(number, record)
        prev = sha256_hex(line)
    if head is not None and prev != head:
        problems.append(
            f"line {len(lines)}: the last line is not the head the run recorded "
            "(lines were cut off the end, or the last line was edited)"
        )
    return records, problems


def _decode(line: bytes) -> dict[str, Any] | None:
    """The record a line holds (None: it holds no JSON object)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _unreadable(number: int, last_incomplete: bool) -> str:
    if last_incomplete:
        return f"line {number}: incomplete last record (the run was killed while writing it)"
    return f"line {number}: not a JSON record"


def _chain_problems(number: int, record: dict[str, Any], prev: str) -> list[str]:
    """Whether the record's prev is the hash of the line before it (64 zeros first)."""
    if record.get("prev") == prev:
        return []
    if number == 1:
        return [
            "line 1: chain broken: the first record's prev is not 64 zeros "
            "(lines were removed from the start, or it was edited)"
        ]
    return [
        f"line {number}: chain broken: prev is not the sha256 of line {number - 1} "
        f"(line {number - 1} was edited, or lines were removed, inserted or "
        "reordered here)"
    ]


def _seq_problems(
    number: int, record: dict[str, Any], expected: int | None
) -> tuple[list[str], int | None]:
    """(the problems of the record's seq, the seq the next record should have)."""
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return [f"line {number}: no seq number"], None
    if expected is not None and seq != expected:
        return [
            f"line {number}: seq {seq} where {expected} was expected "
            "(records missing, inserted or reordered)"
        ], seq + 1
    return [], seq + 1


def _field_problems(number: int, record: dict[str, Any]) -> list[str]:
    """Fields every record has, and a command's outputs that match their sha256."""
    problems = [
        f"line {number}: no {key!r} field" for key in ("run", "ts", "kind") if key not in record
    ]
    if record.get("kind") == "command":
        for stream in ("stdout", "stderr"):
            text = record.get(stream)
            if isinstance(text, str) and not record.get(f"{stream}_truncated"):
                if sha256_hex(encode_text(text)) != record.get(f"{stream}_sha256"):
                    problems.append(
                        f"line {number}: {stream} does not match {stream}_sha256 "
                        "(the output was edited)"
                    )
    return problems


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    head: str | None = args.head
    if args.report is not None:
        head = _report_head(args)
        if head is None:
            return 2
    if not args.files:
        parser.error("verify: give FILE, or --report HTML")
    if head is not None and len(args.files) != 1:
        parser.error("verify: --head and --report check one log")
    status = 0
    for file in args.files:
        # a signed head checked is the head given to the next file
        file_status, head = _check(file, head, args.allowed_signers)
        status = max(status, file_status)
    return status


def _parser() -> argparse.ArgumentParser:
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
    return parser


def _report_head(args: argparse.Namespace) -> str | None:
    """The head the --report recorded (None, said why: exit 2); without FILE its log
    becomes the file to check."""
    try:
        head_in_report, log_name = _from_report(args.report)
    except (OSError, ValueError) as exc:
        print(f"error: {args.report}: {exc}", file=sys.stderr)
        return None
    if args.head is not None and args.head != head_in_report:
        print(f"error: --head {args.head} differs from the report's {head_in_report}")
        return None
    if not args.files:
        args.files = [args.report.parent / log_name]
    return head_in_report


def _check(file: Path, head: str | None, allowed_signers: Path | None) -> tuple[int, str | None]:
    """Check one log and print the outcome: (exit status, the head checked)."""
    signer = ""
    try:
        if allowed_signers is not None:
            signer, signed_head = _signed(file, allowed_signers)
            if head is not None and head != signed_head:
                print(f"{file}: the signed head differs from the head given")
                return 1, head
            head = signed_head
        records, problems = _verify(file, head)
    except OSError as exc:
        _unreadable_file(file, exc)
        return 2, head
    except ValueError as exc:  # the signature or its statement
        print(f"{file}: {exc}")
        print(f"FAILED: {file} (signature)")
        return 1, head
    if problems:
        for problem in problems:
            print(f"{file}: {problem}")
        print(f"FAILED: {file} ({len(problems)} problems in {records} records)")
        return 1, head
    anchored = ", ends at the recorded head" if head is not None else ""
    if signer:
        anchored = f", ends at the head signed by {signer}"
    print(f"ok: {file} ({records} records{anchored})")
    return 0, head


def _unreadable_file(file: Path, exc: OSError) -> None:
    if isinstance(exc, FileNotFoundError):
        print(f"error: {file}: no such file", file=sys.stderr)
    elif isinstance(exc, IsADirectoryError):
        print(f"error: {file}: is a directory, not an audit log", file=sys.stderr)
    else:
        print(f"error: {file}: cannot be read: {exc.strerror}", file=sys.stderr)


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

"""The audit log: a hash chain of redacted records that tells when it was tampered with."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from oneupgrade.audit.log import GENESIS, OUTPUT_CAP, AuditError, AuditLog
from oneupgrade.audit.redact import MASK, Redactor
from oneupgrade.audit.verify import main, verify_log

REPO = Path(__file__).resolve().parents[2]


def fill(path: Path, n: int = 5, run: str = "run-1") -> AuditLog:
    log = AuditLog(path, run, Redactor(secrets=["hunter22"]))
    log.event("run-start", operator="jdoe")
    for i in range(n - 2):
        log.command(
            "03-stop", f"fe{i}", "systemctl stop opennebula", 0, 1.0, 0.5, "ok\n", "", mutating=True
        )
    log.step("03-stop", None, "passed", 1.0, 2.0)
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_records_chain_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = fill(path)
    log.close()
    raw = lines(path)
    records = [json.loads(line) for line in raw]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS
    for before, record in zip(raw, records[1:], strict=False):
        assert record["prev"] == hashlib.sha256(before).hexdigest()
    assert [r["kind"] for r in records] == ["run-start", "command", "command", "command", "step"]
    assert {r["run"] for r in records} == {"run-1"}
    assert log.head == hashlib.sha256(raw[-1]).hexdigest()
    assert verify_log(path) == []
    assert verify_log(path, head=log.head) == []


def test_command_record_fields(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", "r", Redactor()) as log:
        record = log.command(
            "04-leader",
            "fe1",
            "onedb backup",
            3,
            10.0,
            1.5,
            "out",
            "err",
            mutating=True,
            planned=False,
            error="CommandFailed",
        )
    assert record == json.loads(lines(tmp_path / "a.jsonl")[0])
    assert (record["step"], record["node"]) == ("04-leader", "fe1")
    assert (record["exit_status"], record["started"], record["duration"]) == (3, 10.0, 1.5)
    assert (record["mutating"], record["planned"], record["error"]) == (
        True,
        False,
        "CommandFailed",
    )
    assert record["stdout"] == "out"
    assert record["stdout_sha256"] == hashlib.sha256(b"out").hexdigest()
    assert record["stderr_sha256"] == hashlib.sha256(b"err").hexdigest()
    assert record["stdout_truncated"] is False
    assert record["ts"].endswith("+00:00")


def test_planned_command(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", "r", Redactor()) as log:
        record = log.command(
            "02-disable",
            "fe1",
            "onehost disable 3",
            None,
            1.0,
            0.0,
            "",
            "",
            mutating=True,
            planned=True,
        )
    assert (record["planned"], record["exit_status"]) == (True, None)


def test_redaction_happens_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, "r", Redactor(secrets=["hunter22"], patterns=[r"tok-\w+"])) as log:
        record = log.command(
            "04",
            "fe1",
            "onedb backup -p 'hunter22'",
            0,
            1.0,
            1.0,
            "token tok-abc",
            "mysql: hunter22 wrong",
            mutating=False,
            error="hunter22 failed",
        )
        log.step("04", "fe1", "failed", 1.0, 1.0, reason="bad password hunter22")
        log.event("facts", nested={"db": ["hunter22"]}, url="https://u:p@x/y")
    text = path.read_text()
    assert "hunter22" not in text
    assert "tok-abc" not in text
    assert "u:p@" not in text
    assert record["command"] == f"onedb backup -p '{MASK}'"
    # the hash is of the redacted text: the secret cannot be confirmed by guessing
    assert record["stderr_sha256"] == hashlib.sha256(f"mysql: {MASK} wrong".encode()).hexdigest()
    assert verify_log(path) == []


def test_long_output_keeps_the_tail(tmp_path: Path) -> None:
    out = "x" * OUTPUT_CAP + "THE END\n"
    with AuditLog(tmp_path / "a.jsonl", "r", Redactor()) as log:
        record = log.command("s", "n", "c", 0, 0.0, 0.0, out, "", mutating=False)
    assert record["stdout_truncated"] is True
    assert record["stdout"].endswith("THE END\n")
    assert len(record["stdout"].encode()) == OUTPUT_CAP
    assert record["stdout_bytes"] == len(out)
    assert record["stdout_sha256"] == hashlib.sha256(out.encode()).hexdigest()
    assert verify_log(tmp_path / "a.jsonl") == []


def test_undecodable_output_round_trips(tmp_path: Path) -> None:
    weird = b"caf\xc3\xa9 \xff".decode("utf-8", "surrogateescape")
    with AuditLog(tmp_path / "a.jsonl", "r", Redactor()) as log:
        log.command("s", "n", "c", 0, 0.0, 0.0, weird, "", mutating=False)
    assert verify_log(tmp_path / "a.jsonl") == []


def test_edited_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    raw = lines(path)
    raw[2] = raw[2].replace(b'"exit_status":0', b'"exit_status":1')
    path.write_bytes(b"\n".join(raw) + b"\n")
    problems = verify_log(path)
    assert len(problems) == 1
    assert problems[0].startswith("line 4: chain broken: prev is not the sha256 of line 3")


def test_edited_output_of_the_last_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, "r", Redactor()) as log:
        log.command("s", "n", "c", 0, 0.0, 0.0, "ok", "", mutating=False)
    path.write_bytes(path.read_bytes().replace(b'"stdout":"ok"', b'"stdout":"OK"'))
    assert verify_log(path) == [
        "line 1: stdout does not match stdout_sha256 (the output was edited)"
    ]


def test_removed_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    raw = lines(path)
    del raw[2]
    path.write_bytes(b"\n".join(raw) + b"\n")
    problems = verify_log(path)
    assert any(p.startswith("line 3: chain broken") for p in problems)
    assert any(p.startswith("line 3: seq 4 where 3 was expected") for p in problems)


def test_removed_first_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    path.write_bytes(b"\n".join(lines(path)[1:]) + b"\n")
    problems = verify_log(path)
    assert problems[0].startswith("line 1: chain broken: the first record's prev is not 64 zeros")


def test_reordered_lines_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    raw = lines(path)
    raw[1], raw[2] = raw[2], raw[1]
    path.write_bytes(b"\n".join(raw) + b"\n")
    problems = verify_log(path)
    assert {p.split(":")[0] for p in problems} >= {"line 2", "line 3"}


def test_inserted_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    raw = lines(path)
    raw.insert(2, raw[1])
    path.write_bytes(b"\n".join(raw) + b"\n")
    assert any(p.startswith("line 3:") for p in verify_log(path))


def test_cut_off_end_needs_the_head(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = fill(path)
    log.close()
    path.write_bytes(b"\n".join(lines(path)[:-1]) + b"\n")
    assert verify_log(path) == []  # a chain alone cannot tell
    assert verify_log(path, head=log.head)[0].startswith("line 4: the last line is not the head")


def test_bad_json_line_and_incomplete_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    raw = lines(path)
    raw[1] = b"{not json"
    path.write_bytes(b"\n".join(raw) + b'\n{"seq": 6, "ru')
    problems = verify_log(path)
    assert "line 2: not a JSON record" in problems
    assert problems[-1] == "line 6: incomplete last record (the run was killed while writing it)"


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path, 3, "run-1").close()
    with AuditLog(path, "run-2", Redactor()) as log:
        assert log.records == 3
        record = log.event("run-start")
    assert record["seq"] == 4
    assert verify_log(path) == []


def test_refuses_to_append_after_an_incomplete_record(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    fill(path).close()
    with path.open("ab") as f:
        f.write(b'{"seq": 6')
    with pytest.raises(AuditError, match="incomplete"):
        AuditLog(path, "r", Redactor())


def test_closed_log_refuses_records(tmp_path: Path) -> None:
    log = fill(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.event("late")


def test_reserved_event_fields(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", "r", Redactor()) as log:
        with pytest.raises(ValueError, match="prev"):
            log.event("x", prev="0")


def test_concurrent_writers_keep_a_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, "r", Redactor())
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        for i in range(25):
            log.command(
                "09-hv", f"hv{n}", f"echo {i}", 0, 0.0, 0.0, f"{i}\n" * 50, "", mutating=False
            )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(lines(path)) == 200
    assert [json.loads(line)["seq"] for line in lines(path)] == list(range(1, 201))
    assert verify_log(path) == []


def test_file_is_private(tmp_path: Path) -> None:
    fill(tmp_path / "a.jsonl").close()
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------------- command line


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneupgrade.audit", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_ok_bad_and_missing(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    fill(good).close()
    fill(bad).close()
    raw = lines(bad)
    del raw[1]
    bad.write_bytes(b"\n".join(raw) + b"\n")

    result = run_cli("verify", str(good))
    assert (result.returncode, result.stdout) == (0, f"ok: {good} (5 records)\n")

    result = run_cli("verify", str(good), str(bad))
    assert result.returncode == 1
    assert f"ok: {good} (5 records)" in result.stdout
    assert f"{bad}: line 2: chain broken" in result.stdout
    assert f"FAILED: {bad}" in result.stdout

    result = run_cli("verify", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nope.jsonl'}: no such file\n"
    assert "Traceback" not in result.stderr

    result = run_cli("verify", str(tmp_path))
    assert result.returncode == 2
    assert "is a directory" in result.stderr


def test_cli_needs_a_subcommand() -> None:
    assert run_cli().returncode == 2


def test_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(tmp_path / "a.jsonl").close()
    assert main(["verify", str(tmp_path / "a.jsonl")]) == 0
    assert capsys.readouterr().out == f"ok: {tmp_path / 'a.jsonl'} (5 records)\n"

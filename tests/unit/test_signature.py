"""The signed audit head (oneupgrade.audit.signature) with OpenSSH's own ssh-keygen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneupgrade.audit import verify as audit
from oneupgrade.audit.log import AuditLog
from oneupgrade.audit.redact import Redactor
from oneupgrade.audit.signature import (
    NAMESPACE,
    Statement,
    plan_digest,
    read_records,
    sign_head,
    signature_path,
    verify_signature,
)
from oneupgrade.transport.sshconfig import Hop


def _key(path: Path, passphrase: str = "") -> str:
    """A new ed25519 key at `path`; its public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "t", "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _log(tmp_path: Path) -> tuple[Path, Statement]:
    log = tmp_path / "20261204T000000Z.jsonl"
    with AuditLog(log, "20261204T000000Z", Redactor([], ())) as a:
        a.command("04:t", "fe1", "onedb backup /x/pre-upgrade-fe1-20261204-101010.sql", 0, 1.0,
                  0.1, "", "", mutating=True)  # fmt: skip
        a.command("04:t", "fe1", "onedb version", 0, 1.0, 0.1, "7.0.0", "", mutating=False)
        head, records = a.head, a.records
    plan = plan_digest(read_records(log))
    return log, Statement(log.name, "20261204T000000Z", "prod", "run", records, head, plan, "op@c")


def _hop(key: Path) -> Hop:
    return Hop("fe1", "10.0.0.1", 22, "root", (key,), agent=False, named=True)


def test_the_plan_digest_ignores_timestamps_and_interleaving_but_not_commands() -> None:
    def cmd(node: str, command: str, step: str = "05:t") -> dict[str, object]:
        return {"kind": "command", "mutating": True, "step": step, "node": node, "command": command}

    planned = [cmd("fe2", "onedb backup /b/pre-fe2-20261204-101010.sql"), cmd("fe3", "a"),
               cmd("fe2", "cp -ra /etc/one /etc/one.2026-12-04")]  # fmt: skip
    ran = [cmd("fe3", "a"), cmd("fe2", "onedb backup /b/pre-fe2-20261204-101244.sql"),
           cmd("fe2", "cp -ra /etc/one /etc/one.2026-12-05")]  # fmt: skip
    assert plan_digest(planned) == plan_digest(ran)
    assert plan_digest(planned) != plan_digest([*ran, cmd("fe3", "b")])
    assert plan_digest(planned) != plan_digest([*ran[:2], cmd("fe2", "rm -rf /etc/one")])
    swapped = [ran[0], ran[2], ran[1]]  # the order on one node is part of the plan
    assert plan_digest(planned) != plan_digest(swapped)
    reads = [*ran, {**cmd("fe2", "cat /etc/one/oned.conf"), "mutating": False}]
    assert plan_digest(planned) == plan_digest(reads)


def test_a_signed_head_verifies_names_its_signer_and_catches_every_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = _key(tmp_path / "id_ed25519")
    log, statement = _log(tmp_path)
    signed = sign_head(log, statement, _hop(tmp_path / "id_ed25519"))
    assert signed.signature == signature_path(log)
    assert signed.key.startswith("ED25519 SHA256:")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'jdoe@example namespaces="{NAMESPACE}" {public}\n')
    assert verify_signature(log, allowed) == (statement, "jdoe@example")
    argv = ["verify", str(log), "--allowed-signers", str(allowed)]
    assert audit.main(argv) == 0
    assert "ends at the head signed by jdoe@example (run 20261204T000000Z of prod)" in (
        capsys.readouterr().out
    )
    for path in (log, log.with_suffix(".head"), signature_path(log)):
        original = path.read_bytes()
        at = len(original) // 2
        path.write_bytes(original[:at] + bytes([original[at] ^ 1]) + original[at + 1 :])
        assert audit.main(argv) == 1, path
        assert "FAILED" in capsys.readouterr().out
        path.write_bytes(original)
    assert audit.main(argv) == 0
    capsys.readouterr()
    other = _key(tmp_path / "other")
    allowed.write_text(f'mallory@example namespaces="{NAMESPACE}" {other}\n')
    assert audit.main(argv) == 1
    assert "not by a key of" in capsys.readouterr().out
    # a right key for another namespace is not accepted either
    allowed.write_text(f'jdoe@example namespaces="git" {public}\n')
    assert audit.main(argv) == 1


def test_a_key_that_needs_a_passphrase_leaves_the_log_unsigned_at_once(tmp_path: Path) -> None:
    _key(tmp_path / "locked", passphrase="s3cret-phrase")
    log, statement = _log(tmp_path)
    signed = sign_head(log, statement, _hop(tmp_path / "locked"))
    assert signed.signature is None
    assert str(tmp_path / "locked") in signed.why
    assert not signature_path(log).exists()
    nothing = Hop("fe1", "10.0.0.1", 22, "root", (), agent=False, named=False)
    assert "no SSH key to sign with" in sign_head(log, statement, nothing).why

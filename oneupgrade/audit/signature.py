"""The audit log's head, signed with the operator's SSH key, for a change board.

The hash chain shows an edited line, but whoever can write the files can rewrite the
chain and its head together. At the end of a run the head goes into a short text
statement (`RUN.head`) that also names the log, the run, the cluster, the number of
records and the run's *plan* digest; OpenSSH signs it (`ssh-keygen -Y sign`, namespace
`NAMESPACE`) into `RUN.head.sig`. Verifying (`python -m oneupgrade.audit verify FILE
--allowed-signers F`) asks OpenSSH which allowed signer made the signature and whether
it is good, then checks that the log's chain ends at the signed head.

The plan digest is over the changing commands of the log, grouped by step and node in
their order there, with the run's timestamps in file names made neutral: a dry run's
planned commands and the real run that follows it give the same digest, so a board can
check that the plan it approved (a signed dry run) is the one that ran.

The key: the inventory's (or ssh config's) identity file; else the ssh-agent's first
key; else OpenSSH's first default identity. ssh-keygen runs with no terminal: a key
that needs a passphrase leaves the log unsigned (the run says why) instead of waiting.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oneupgrade.transport.sshconfig import Hop

__all__ = [
    "NAMESPACE",
    "Signed",
    "Statement",
    "matching_plan",
    "plan_digest",
    "sign_head",
    "signature_path",
    "statement_path",
    "verify_signature",
]

NAMESPACE = "oneupgrade-audit"
SIGN_TIMEOUT = 30.0
# what a run puts in the names of the files it writes on nodes (dumps, backups)
_STAMPS = (
    (re.compile(r"\d{8}[-T]\d{6}Z?"), "TIME"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "DATE"),
)


def statement_path(log: Path) -> Path:
    return log.with_suffix(".head")


def signature_path(log: Path) -> Path:
    return log.with_suffix(".head.sig")


# -- the plan ---------------------------------------------------------------------------


def _neutral(command: str) -> str:
    for pattern, word in _STAMPS:
        command = pattern.sub(word, command)
    return command


def plan_digest(records: Iterable[dict[str, Any]]) -> str:
    """sha256 of the changing commands (planned or run) by step and node; see the doc."""
    plan: dict[str, list[str]] = {}
    for r in records:
        if r.get("kind") == "command" and r.get("mutating"):
            plan.setdefault(f"{r.get('step')} {r.get('node')}", []).append(
                _neutral(str(r.get("command")))
            )
    canonical = json.dumps(sorted(plan.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_records(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# -- the statement ----------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """What is signed: one `key: value` per line, in this order."""

    log: str  # the log's file name
    run: str
    cluster: str
    kind: str  # "run" | "dry-run"
    records: int
    head: str
    plan: str
    operator: str

    FIELDS = ("log", "run", "cluster", "kind", "records", "head", "plan", "operator")

    def text(self) -> str:
        lines = ["oneupgrade audit head"]
        lines += [f"{name}: {getattr(self, name)}" for name in self.FIELDS]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Statement:
        lines = text.splitlines()
        if not lines or lines[0] != "oneupgrade audit head":
            raise ValueError("not a oneupgrade audit head statement")
        values = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        missing = [name for name in cls.FIELDS if name not in values]
        if missing:
            raise ValueError(f"the statement has no {', '.join(missing)}")
        if not values["records"].isdigit():
            raise ValueError("the statement's records is not a number")
        return cls(**{**values, "records": int(values["records"])})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Signed:
    """The outcome of signing: `signature` None when the log stays unsigned (`why`)."""

    statement: Statement
    signature: Path | None
    key: str = ""  # "ED25519 SHA256:..." of the key that signed
    why: str = ""


# -- signing ----------------------------------------------------------------------------


def _ssh_keygen(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """ssh-keygen with no terminal (a passphrase prompt fails at once) and no X askpass."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SSH_ASKPASS")}
    return subprocess.run(
        ["ssh-keygen", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=SIGN_TIMEOUT,
        check=False,
        start_new_session=True,
        env=env,
    )


def _fingerprint(key: Path) -> str:
    """'ED25519 SHA256:...' of a key file (private or public), or ''."""
    try:
        out = _ssh_keygen(["-l", "-f", str(key)]).stdout.decode(errors="replace").split()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{out[-1].strip('()')} {out[1]}" if len(out) >= 3 else ""


def _agent_key(directory: Path) -> Path | None:
    """The ssh-agent's first key as a public key file (ssh-keygen then signs through the
    agent), or None."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        return None
    try:
        listed = subprocess.run(
            ["ssh-add", "-L"], capture_output=True, timeout=10, check=False, text=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    keys = [line for line in listed.stdout.splitlines() if line.strip()]
    if listed.returncode != 0 or not keys:
        return None
    public = directory / "agent-key.pub"
    public.write_text(keys[0] + "\n")
    return public


def _candidates(hop: Hop, directory: Path) -> list[Path]:
    """The keys to sign with, in the order SSH offered them on `hop` (the first node)."""
    if hop.named:
        return list(hop.identity_files)
    agent = _agent_key(directory) if hop.agent else None
    return [*([agent] if agent else []), *hop.identity_files]


def sign_head(log: Path, statement: Statement, hop: Hop) -> Signed:
    """Write `statement` beside `log` and sign it with the first of the keys SSH offers
    on `hop` that ssh-keygen can sign with. Never raises: a failure is Signed.why."""
    path = statement_path(log)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(statement.text())
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="oneupgrade-sign-") as tmp:
        for key in _candidates(hop, Path(tmp)):
            try:
                done = _ssh_keygen(["-Y", "sign", "-n", NAMESPACE, "-f", str(key), str(path)])
            except FileNotFoundError:
                return Signed(statement, None, why="ssh-keygen is not installed (openssh-client)")
            except subprocess.TimeoutExpired:
                failures.append(f"{key}: ssh-keygen did not sign in {SIGN_TIMEOUT:g} s")
                continue
            if done.returncode == 0:
                signature = signature_path(log)
                os.chmod(signature, 0o600)
                return Signed(statement, signature, key=_fingerprint(key))
            error = done.stderr.decode(errors="replace").strip().splitlines()
            failures.append(f"{key}: {error[-1] if error else f'exit {done.returncode}'}")
    why = "; ".join(failures) or f"no SSH key to sign with ({hop.offered()} offered)"
    return Signed(statement, None, why=why)


# -- verifying --------------------------------------------------------------------------


def verify_signature(log: Path, allowed_signers: Path) -> tuple[Statement, str]:
    """(the statement, the signer's principal) when `log`'s statement carries a good
    signature of an allowed signer; ValueError naming what is wrong otherwise. The chain
    and the head are the caller's to check against the statement."""
    path, signature = statement_path(log), signature_path(log)
    for needed in (path, signature):
        if not needed.is_file():
            raise ValueError(f"{needed.name} is missing: the log is not signed")
    data = path.read_bytes()
    found = _ssh_keygen(
        ["-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)], data
    )
    principals = found.stdout.decode(errors="replace").split()
    if found.returncode != 0 or not principals:
        why = found.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(
            f"the signature is not by a key of {allowed_signers}" + (f" ({why[-1]})" if why else "")
        )
    principal = principals[0]
    verify = ["-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE]
    checked = _ssh_keygen([*verify, "-s", str(signature)], data)
    if checked.returncode != 0:
        why = (checked.stdout + checked.stderr).decode(errors="replace").strip().splitlines()
        raise ValueError(f"bad signature: {why[-1] if why else 'ssh-keygen refused it'}")
    try:
        statement = Statement.parse(data.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    return statement, principal


def matching_plan(directory: Path, plan: str, before: str) -> Path | None:
    """The newest signed dry-run statement in `directory` (older than the run `before`)
    whose plan is `plan`, or None."""
    found = []
    for path in directory.glob("*-dry-run.head"):
        if not signature_path(path.with_suffix(".jsonl")).is_file():
            continue
        try:
            statement = Statement.parse(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if statement.plan == plan and statement.run < before:
            found.append((statement.run, path))
    return max(found)[1] if found else None

"""A change board's check: the plan it approved (a signed dry run) is the one that ran,
and the audit logs are signed by the operator's SSH key (issue: signed audit head)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onelab import Lab
from onelab.invoke import ROOT
from oneupgrade.audit.signature import NAMESPACE
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import Run, run_runbook


def _verify(log: Path, allowed: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "oneupgrade.audit", "verify", str(log)]
    return subprocess.run(
        [*argv, "--allowed-signers", str(allowed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _log(run: Run) -> Path:
    assert run.html is not None
    return run.html.with_suffix(".jsonl")


def _public(lab: Lab) -> str:
    argv = ["ssh-keygen", "-y", "-f", str(lab.identity)]
    return subprocess.run(argv, capture_output=True, check=True).stdout.decode().strip()


def test_the_signed_plan_of_a_dry_run_is_named_by_the_run_that_did_it(
    make_lab: LabFactory, report_dir: Path, tmp_path: Path
) -> None:
    lab = make_lab(frontends=2, hypervisors=1, version="6.10")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'jdoe@example namespaces="{NAMESPACE}" {_public(lab)}\n')

    dry = run_runbook(lab, report_dir, "--dry-run")
    assert dry.returncode == 0, dry.output
    assert "audit log signed:" in dry.stdout
    plan = _log(dry)
    real = run_runbook(lab, report_dir)
    assert real.returncode == 0, real.output
    named = f"plan: the one signed by dry run {plan.stem}"
    assert named in real.stdout
    assert real.html is not None
    assert named in real.html.read_text()
    for log in (plan, _log(real)):
        checked = _verify(log, allowed)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "ends at the head signed by jdoe@example" in checked.stdout

    # the cluster is at the target now: this run's (empty) plan was never signed
    again = run_runbook(lab, report_dir)
    assert again.returncode == 0, again.output
    assert "plan: matches no signed dry run in the report directory" in again.stdout

    # one byte of the log, the head statement or the signature changed: refused
    log = _log(real)
    for path in (log, log.with_suffix(".head"), log.with_suffix(".head.sig")):
        original = path.read_bytes()
        path.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
        checked = _verify(log, allowed)
        assert checked.returncode == 1, (path, checked.stdout)
        assert "FAILED" in checked.stdout
        path.write_bytes(original)
    # signed by someone the board does not allow
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    allowed.write_text(
        f'mallory@example namespaces="{NAMESPACE}" {other.with_suffix(".pub").read_text()}'
    )
    checked = _verify(log, allowed)
    assert checked.returncode == 1
    assert "is not by a key of" in checked.stdout


def test_a_run_that_cannot_sign_says_so_once_and_the_report_marks_the_log_unsigned(
    make_lab: LabFactory, report_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab(frontends=2, hypervisors=1)
    monkeypatch.setenv("PATH", "/nonexistent")  # no ssh-keygen (the runbook runs by full path)
    run = run_runbook(lab, report_dir, "--dry-run")
    assert run.returncode == 0, run.output
    said = [ln for ln in run.output.splitlines() if "UNSIGNED" in ln]
    assert said == ["audit log UNSIGNED: ssh-keygen is not installed (openssh-client)"]
    assert run.html is not None
    page = run.html.read_text()
    assert "UNSIGNED: ssh-keygen is not installed" in page
    assert not run.html.with_suffix(".head.sig").exists()

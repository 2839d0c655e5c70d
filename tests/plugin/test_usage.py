"""The runbook refuses to run without an inventory, and bad input never shows a traceback."""

import subprocess
import sys
from pathlib import Path

from onelab.invoke import ROOT


def _pytest(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_runbook_is_refused_without_an_inventory() -> None:
    result = _pytest("runbook/")
    assert result.returncode == 4
    assert "runbook/ changes a cluster and needs --inventory PATH" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_inventory_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    inventory = tmp_path / "prod.yml"
    inventory.write_text(
        'cluster: prod\nzone: zero\ntarget: "7.0"\n'
        "ssh: {user: root, known_hosts: known_hosts}\n"
        "frontends: [{name: fe1, address: 10.0.0.1}]\nhypervisors: []\n"
    )
    result = _pytest("runbook/", "--inventory", str(inventory))
    assert result.returncode == 4
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "prod.yml:2: zone:" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_inventory_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _pytest("runbook/", "--inventory", str(tmp_path / "nope.yml"))
    assert result.returncode == 4
    assert "nope.yml" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bare_pytest_collects_no_runbook_step() -> None:
    result = _pytest("--collect-only", "-q", "tests/unit/test_releases.py")
    assert result.returncode == 0
    assert "runbook" not in result.stdout

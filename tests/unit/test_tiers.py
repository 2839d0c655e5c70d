"""`make test`'s two tiers side by side (tests/tiers.py): both run, the real tier's
output follows the simulated tier's, and a failure in either is the exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
import pytest

@pytest.mark.real
def test_on_real_opennebula():
    assert {real!r} == "passes"

def test_on_the_simulation():
    pass
"""


def _tiers(tmp_path: Path, real: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_two.py").write_text(TESTS.format(real=real))
    env = {**os.environ, "ONEUPGRADE_REAL_TIER_LOG": str(tmp_path / "real.log")}
    return subprocess.run(
        [sys.executable, "-m", "tests.tiers", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-W", "ignore::pytest.PytestUnknownMarkWarning", "--rootdir", str(tmp_path),
         str(tmp_path / "test_two.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_both_tiers_pass_and_the_real_tiers_output_follows(tmp_path: Path) -> None:
    run = _tiers(tmp_path, "passes")
    assert run.returncode == 0, run.stdout[-3000:]
    sim, real = run.stdout.split("=== simulated tier: exit 0 after", 1)
    assert "1 passed, 1 deselected" in sim
    assert "1 passed, 1 deselected" in real
    assert run.stdout.rstrip().endswith("===")
    assert "real tier: exit 0" in run.stdout.splitlines()[-1]


def test_a_failure_in_the_real_tier_fails_the_whole(tmp_path: Path) -> None:
    run = _tiers(tmp_path, "fails")
    assert run.returncode == 1, run.stdout[-3000:]
    assert "1 failed, 1 deselected" in run.stdout
    assert "real tier: exit 1" in run.stdout.splitlines()[-1]

"""`make test`'s runs side by side (tests/tiers.py): the simulated tier and the real
tier's two lanes all run, the lanes' output follows the simulated tier's, and a failure
in any is the exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LANE_A = """
import pytest

@pytest.mark.real
def test_on_a_shared_real_lab():
    assert {a!r} == "passes"
"""

LANE_B = """
import pytest

@pytest.mark.real
def test_on_a_real_lab_of_its_own():
    assert {b!r} == "passes"

def test_on_the_simulation():
    pass
"""

MAIN = """
import sys
from pathlib import Path
from tests.tiers import main
sys.exit(main(["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning"],
              root=Path(sys.argv[1]), lane_a=("test_a.py",)))
"""


def _tiers(tmp_path: Path, a: str, b: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_a.py").write_text(LANE_A.format(a=a))
    (tmp_path / "test_b.py").write_text(LANE_B.format(b=b))
    return subprocess.run(
        [sys.executable, "-c", MAIN, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_every_run_passes_and_the_lanes_output_follows_the_simulated_tiers(
    tmp_path: Path,
) -> None:
    run = _tiers(tmp_path, "passes", "passes")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    sim, lane_a = run.stdout.split("=== real tier, lane A", 1)
    lane_a, lane_b = lane_a.split("=== real tier, lane B", 1)
    assert "test_b.py ." in sim
    assert "1 passed, 2 deselected" in sim
    assert "test_a.py ." in lane_a
    assert "1 passed" in lane_a
    assert "test_b.py ." in lane_b
    assert "1 passed, 1 deselected" in lane_b
    last = run.stdout.splitlines()[-1]
    assert "simulated tier: exit 0; real tier, lane A: exit 0; real tier, lane B: exit 0" in last


def test_a_failure_in_one_lane_fails_the_whole(tmp_path: Path) -> None:
    run = _tiers(tmp_path, "passes", "fails")
    assert run.returncode == 1, run.stdout[-3000:]
    assert "1 failed, 1 deselected" in run.stdout
    assert "real tier, lane A: exit 0; real tier, lane B: exit 1" in run.stdout.splitlines()[-1]

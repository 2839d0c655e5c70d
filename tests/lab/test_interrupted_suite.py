"""A test run stopped by SIGTERM (CI's stop, `kill`) takes the labs it started down; a
lab whose holder was killed outright (SIGKILL) is taken down by the next test run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onelab import Lab, nodes

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import time
from pathlib import Path

def test_holds_a_lab(make_lab):
    lab = make_lab(frontends=1, hypervisors=1)
    Path({where!r}).write_text(str(lab.dir))
    time.sleep(600)
"""


def test_sigterm_to_a_test_run_leaves_no_lab_process(tmp_path: Path) -> None:
    where = tmp_path / "lab-dir"
    (tmp_path / "test_holds.py").write_text(PROBE.format(where=str(where)))
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-p", "no:randomly", "--rootdir", str(tmp_path), str(tmp_path / "test_holds.py")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not where.exists() and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        assert where.exists(), run.communicate(timeout=30)[0].decode()[-3000:]
        lab = Lab.open(where.read_text())
        pids = {name: nodes.listener_pid(lab.dir, name) for name in lab.names}
        assert all(pids.values()), pids  # the lab is up
        os.kill(run.pid, signal.SIGTERM)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    left = {name: nodes.listener_pid(lab.dir, name) for name in lab.names}
    assert left == dict.fromkeys(lab.names), left
    for pid in pids.values():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"pid {pid} still runs"


HOLDER = """
import sys, time
from onelab import Lab
Lab.up(sys.argv[1], frontends=1, hypervisors=1)
print("up", flush=True)
time.sleep(600)
"""


def test_a_lab_left_by_a_killed_run_is_taken_down_by_the_next_run(tmp_path: Path) -> None:
    where = tmp_path / "lab"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(where)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert holder.stdout is not None
        said = holder.stdout.readline().decode()
        assert said == "up\n", said + holder.stdout.read().decode()[-3000:]
        lab = Lab.open(where)
        pids = {name: nodes.listener_pid(lab.dir, name) for name in lab.names}
        assert all(pids.values()), pids
        os.kill(holder.pid, signal.SIGKILL)  # no unwinding: the lab is left running
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    time.sleep(0.5)
    left = {name: nodes.listener_pid(lab.dir, name) for name in lab.names}
    assert left == pids, left  # still up: nothing took it down yet
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    nxt = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-p", "no:randomly", "--rootdir", str(tmp_path), str(tmp_path / "test_nothing.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert nxt.returncode == 0, nxt.stdout[-3000:]
    assert f"of {lab.dir.resolve()}, left behind by process {holder.pid}" in nxt.stdout, nxt.stdout
    left = {name: nodes.listener_pid(lab.dir, name) for name in lab.names}
    assert left == dict.fromkeys(lab.names), left
    for pid in pids.values():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"pid {pid} still runs"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True

"""Detached commands (transport/detach.py) in the real shell: what the waiter prints and
exits with is the command's, and the command outlives a waiter that is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from oneupgrade.transport import detach


def _sh(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=False)


def test_the_waiter_prints_and_exits_as_the_command_did_and_leaves_no_job(tmp_path: Path) -> None:
    jobs = str(tmp_path / "jobs")
    done = _sh(detach.detached("echo out; echo err >&2; exit 3", "j1", 30, jobs))
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert os.listdir(jobs) == ["j1"]  # kept until the reader removes it
    _sh(detach.removal("j1", jobs))
    assert os.listdir(jobs) == []


def test_a_waiter_left_behind_by_a_dead_controller_keeps_the_jobs_exit_status(
    tmp_path: Path,
) -> None:
    # A dropped SSH session kills nothing: the waiter lives on with nobody reading its
    # output. The command's end must still be there for the next run to read.
    jobs = str(tmp_path / "jobs")
    waiter = subprocess.Popen(["sh", "-c", detach.detached("sleep 0.5; exit 4", "j4", 30, jobs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert waiter.stdout is not None
    assert waiter.stderr is not None
    waiter.stdout.close()
    waiter.stderr.close()
    waiter.wait(timeout=10)
    running, finished = detach.parse_list(_sh(detach.listing(jobs)).stdout)
    assert (running, finished) == ([], [("j4", "4", "sleep 0.5; exit 4")])


def test_a_command_outlives_its_killed_waiter_and_the_next_run_reads_how_it_ended(
    tmp_path: Path,
) -> None:
    jobs = str(tmp_path / "jobs")
    marker = tmp_path / "finished"
    command = f"sleep 1; echo done > {marker}; exit 7"
    # the waiter in a process group of its own, killed as a dropped SSH session would be
    waiter = subprocess.Popen(["sh", "-c", detach.detached(command, "j2", 30, jobs)],
                              start_new_session=True)  # fmt: skip
    time.sleep(0.3)
    running, _ = detach.parse_list(_sh(detach.listing(jobs)).stdout)
    assert running == [("j2", command)]
    os.killpg(waiter.pid, signal.SIGKILL)
    waiter.wait()
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.read_text() == "done\n"  # the command ran to its end
    time.sleep(0.3)
    running, finished = detach.parse_list(_sh(detach.listing(jobs)).stdout)
    assert running == []
    assert finished == [("j2", "7", command)]


def test_a_job_whose_process_is_gone_without_a_status_is_reported_lost(tmp_path: Path) -> None:
    job = tmp_path / "jobs" / "j3"
    job.mkdir(parents=True)
    (job / "command").write_text("apt-get install opennebula\n")
    (job / "pid").write_text(f"{os.getpid()}\n")  # a live pid that is not the job's
    running, finished = detach.parse_list(_sh(detach.listing(str(tmp_path / "jobs"))).stdout)
    assert running == []
    assert finished == [("j3", "lost", "apt-get install opennebula")]

"""`make test`: the suite as three pytest runs side by side, the simulated tier and the
real tier in two lanes.

The real tier (`-m real`) spends much of its time waiting on real OpenNebula (labs
starting, oned's raft, monitoring cycles), the simulated tier on the CPU; one after the
other they take the sum, side by side about the longest run. The real tier's lanes:
the modules of its two shared 6.10 labs and some with labs of their own (LANE_A), and
every other real test (the by-hand procedure's real labs among them). The simulated
tier prints to the terminal as it runs; each lane's output goes to its log file,
printed once the simulated tier is done (from where it got to) and then as it comes.
Every lab is its own (every service bound to its node's address; a sweep takes down
only labs whose holder is gone). SIGTERM or Ctrl-C stops every run, each taking its
labs down (Ctrl-C reaches them as it reaches this process). Exit status: 0 when every
run passed (or held no test), else the first failure's.

    python -m tests.tiers [PYTEST OPTIONS...]   (passed to every run)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
# Lane A: the shared 6.10 labs' modules first (conftest), then modules with labs of their
# own, so that the two lanes take about as long (measured: lane A's four modules 20 min,
# the by-hand tests' real labs 21 min, the rest 25 min).
LANE_A = ("tests/real/test_differential.py", "tests/real/test_real_lab.py",
          "tests/real/test_real_mysql.py", "tests/real/test_real_72.py",
          "tests/real/test_real_rollback.py", "tests/real/test_real_upgrade.py")  # fmt: skip
PASSED = (0, 5)  # 5: the selection holds no test of that run


@dataclass
class Run:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path | None  # None: the terminal
    started: float

    def follow(self) -> int:
        """Print the log as it grows until the run ends; its exit status."""
        offset = 0
        while self.log is not None:
            ended = self.proc.poll() is not None
            with self.log.open("rb") as f:
                f.seek(offset)
                data = f.read()
            sys.stdout.write(data.decode("utf-8", "replace"))
            sys.stdout.flush()
            offset += len(data)
            if ended:
                break
            time.sleep(1)
        return self.proc.wait()


def _start(name: str, selection: list[str], root: Path, log: Path | None) -> Run:
    # each run ends with its slowest tests: where the suite's time goes
    argv = [sys.executable, "-m", "pytest", *selection, "--durations=15"]
    if log is None:
        return Run(name, subprocess.Popen(argv, cwd=root), None, time.monotonic())
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    return Run(name, proc, log, time.monotonic())


def main(
    args: list[str], root: Path = ROOT, lane_a: tuple[str, ...] = LANE_A, logs: Path | None = None
) -> int:
    """The three runs in `root` (`args`: pytest options for every run); the first failing
    run's exit status."""
    logs = logs or root / "reports"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    lane_b = ["-m", "real", *(f"--ignore={path}" for path in lane_a), *args]
    runs = [
        _start("real tier, lane A", ["-m", "real", *lane_a, *args], root, logs / "real-a.log"),
        _start("real tier, lane B", lane_b, root, logs / "real-b.log"),
    ]

    def stop(signum: int, frame: FrameType | None) -> None:
        for run in runs:  # each run unwinds and takes its labs down (tests/conftest.py)
            if run.proc.poll() is None:
                run.proc.send_signal(signal.SIGTERM)

    def wait_for_them(signum: int, frame: FrameType | None) -> None:
        pass  # Ctrl-C reached every run already (one process group): they unwind

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, wait_for_them)
    runs.insert(0, _start("simulated tier", ["-m", "not real", *args], root, None))
    ended: list[str] = []
    statuses: list[int] = []
    for run in runs:
        if run.log is not None:
            print(f"\n=== {run.name} ({run.log}) ===\n", flush=True)
        status = run.follow()
        statuses.append(status)
        ended.append(f"{run.name}: exit {status}")
    took = time.monotonic() - started
    print(f"\n=== {'; '.join(ended)} ({took:.0f} s in all) ===", flush=True)
    return next((rc for rc in statuses if rc not in PASSED), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make test`: the two tiers of the suite side by side, as two pytest runs.

The real tier (`-m real`) spends its time waiting on real OpenNebula (labs starting,
oned's raft, monitoring cycles); the rest is the simulation's CPU. Run one after the
other they take the sum, side by side about the longer of the two. The simulated tier
prints to the terminal as it runs; the real tier's output goes to a log file, printed
once the simulated tier is done (from where it got to) and then as it comes. Both
tiers' labs are their own: every service is bound to its node's address and a sweep
takes down only labs whose holder is gone. SIGTERM or Ctrl-C stops both runs, each
taking its labs down (Ctrl-C reaches them as it reaches this process). Exit status: 0
when both passed (or held no test), else the first failure's.

    python -m tests.tiers [PYTEST ARGS...]   (passed to both runs)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
LOG = Path(os.environ.get("ONEUPGRADE_REAL_TIER_LOG", ROOT / "reports" / "real-tier.log"))
PASSED = (0, 5)  # 5: the selection holds no test of that tier


def _pytest(marker: str, args: list[str]) -> list[str]:
    # each tier ends with its slowest tests: where the suite's time goes
    return [sys.executable, "-m", "pytest", "-m", marker, "--durations=15", *args]


def _follow(log: Path, offset: int) -> int:
    """Print what the log gained since `offset`; the new offset."""
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read()
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()
    return offset + len(data)


def main(args: list[str]) -> int:
    LOG.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    with LOG.open("wb") as log:
        real = subprocess.Popen(_pytest("real", args), cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
    runs = [real]

    def stop(signum: int, frame: FrameType | None) -> None:
        for proc in runs:  # each run unwinds and takes its labs down (tests/conftest.py)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def wait_for_them(signum: int, frame: FrameType | None) -> None:
        pass  # Ctrl-C reached both runs already (one process group): they unwind

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, wait_for_them)
    sim = subprocess.Popen(_pytest("not real", args), cwd=ROOT)
    runs.append(sim)
    sim_rc = sim.wait()
    sim_took = time.monotonic() - started
    print(f"\n=== simulated tier: exit {sim_rc} after {sim_took:.0f} s; the real tier "
          f"({LOG}) follows ===\n", flush=True)  # fmt: skip
    offset = 0
    while real.poll() is None:
        offset = _follow(LOG, offset)
        time.sleep(1)
    _follow(LOG, offset)
    took = time.monotonic() - started
    print(f"\n=== simulated tier: exit {sim_rc} ({sim_took:.0f} s); real tier: exit "
          f"{real.returncode} ({took:.0f} s in all) ===", flush=True)  # fmt: skip
    return next((rc for rc in (sim_rc, real.returncode) if rc not in PASSED), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make bench`: the whole upgrade on a lab of 3 front-ends and 50 hypervisors.

    python -m bench.scale                                  # 3 + 50, --forks 10
    python -m bench.scale --hypervisors 200 --forks 50     # 3 + 200 (make bench-200)

Starts a lab whose simulated commands sleep set latencies (`LATENCIES`, modelled
on real ones and scaled down so that the bench stays within a few minutes), runs
the real runbook against it in a subprocess exactly as an operator would, and
prints what it cost. Nothing is asserted: the figures are for a human (and for
the issue's targets: overhead ratio at most 1.10, one connection per node).

Printed:
- wall: the runbook subprocess, from start to exit (pytest start-up included);
- critical path: what the latencies and --forks allow, COMPUTED from the run's
  audit log (see the model in `bench.critical_path`), never measured;
- overhead ratio: wall / critical path;
- downtime: the journal's downtime_start (first unit stopped in step 3) to
  downtime_end (zone healthy in step 8), and the part of the critical path that
  falls in it (steps 4 to 8);
- connections: SSH connections the run opened (its `connections` audit event);
- commands: commands executed, per step the slowest;
- peak RSS of the pytest process (getrusage of the waited-for children);
- the controller's CPU time, and the wall time before the first command (pytest
  start-up, collection, the connections) and after the last (report, exit).
Then, on identical fresh labs with the same latencies, the documented procedure by
hand (`bench.by_hand`: plain OpenSSH, one `ssh` per command), serially and with
--forks hypervisors at a time, beside the runbook: wall, ratio, downtime, ssh
connections (`--no-by-hand` skips it: the serial run takes minutes). The last line
is exactly `overhead ratio R wall W s critical path C s downtime D s connections N`,
with `vs by hand: S x serial, P x parallel` appended when the by-hand runs ran.

The latencies and how a command's is found: `bench.latency`; the figures printed
for the runbook's run: `bench.figures`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.by_hand import run_by_hand
from bench.figures import downtime, edges, report
from bench.latency import LATENCIES
from onelab import Lab
from onelab.invoke import ROOT, runbook_argv


@dataclass
class RunbookRun:
    """The runbook's subprocess on the lab, and what it cost the controller."""

    proc: subprocess.CompletedProcess[str]
    wall: float
    epoch_started: float
    rss_kib: int
    cpu: float
    roles: dict[str, str]
    order: list[str]


def run(
    frontends: int,
    hypervisors: int,
    forks: int,
    keep: Path | None,
    extra: tuple[str, ...] = (),
    by_hand: bool = True,
) -> int:
    with tempfile.TemporaryDirectory(prefix="oneupgrade-bench-") as tmp:
        base = keep or Path(tmp)
        lab_dir, reports = base / "lab", base / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        print(
            f"bench: lab of {frontends} front-ends + {hypervisors} hypervisors, --forks {forks}",
            flush=True,
        )
        print("latencies: " + ", ".join(f"{k}={v:g}" for k, v in LATENCIES.items()), flush=True)
        t0 = time.monotonic()
        lab = Lab.up(lab_dir, frontends=frontends, hypervisors=hypervisors, latencies=LATENCIES)
        try:
            print(f"lab up in {time.monotonic() - t0:.1f} s", flush=True)
            done = run_runbook(lab, reports, forks, extra)
        finally:
            lab.down()
        measured = measure(base, reports, done, forks)
        if measured is None:
            return 1
        last, facts = measured
        if by_hand:
            last += " " + compare_by_hand(base, frontends, hypervisors, forks, done.wall, facts)
        print(last)
        if keep:
            print(f"kept: {base}")
        return done.proc.returncode


def run_runbook(lab: Lab, reports: Path, forks: int, extra: tuple[str, ...]) -> RunbookRun:
    """The runbook against `lab` in a subprocess, as an operator runs it."""
    command = runbook_argv(
        lab.inventory_path,
        "--report-dir",
        str(reports),
        "-q",
        "-p",
        "no:cacheprovider",
        "--forks",
        str(forks),
        *extra,
    )
    print("$ " + " ".join(command), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, epoch_started = time.monotonic(), time.time()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    roles = {s.name: s.role for s in lab.specs}
    order = [s.name for s in lab.specs]
    return RunbookRun(proc, wall, epoch_started, after.ru_maxrss, cpu, roles, order)


def measure(
    base: Path, reports: Path, done: RunbookRun, forks: int
) -> tuple[str, dict[str, Any]] | None:
    """Print the run's figures from its audit log and journal: (the last line, the
    campaign's facts); None when the run left no audit log."""
    (base / "pytest.out").write_text(done.proc.stdout + done.proc.stderr)
    if done.proc.returncode != 0:
        print(done.proc.stdout[-4000:] + done.proc.stderr[-2000:])
        print(f"the runbook FAILED (exit {done.proc.returncode}); figures below are of that run")
    logs = sorted(reports.glob("*/*.jsonl"), key=lambda p: p.stat().st_mtime)
    if not logs:
        print("no audit log: nothing to measure")
        return None
    audit = [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]
    journal = json.loads((logs[-1].parent / "journal.json").read_text())
    facts: dict[str, Any] = journal["campaign"]["facts"]
    print(f"CPU time of the pytest process (the controller): {done.cpu:.1f} s")
    edges(audit, done.epoch_started, done.epoch_started + done.wall)
    last = report(
        audit, facts, done.roles, done.order, forks, done.wall, done.rss_kib, done.proc.returncode
    )
    return last, facts


def compare_by_hand(
    base: Path, frontends: int, hypervisors: int, forks: int, wall: float, facts: dict[str, Any]
) -> str:
    """The documented procedure by hand (bench.by_hand) on identical fresh labs, serial
    and `forks` hypervisors at a time; its figures beside the runbook's."""
    print()
    print(f"{'the same upgrade':<44} {'wall':>8} {'ratio':>7} {'downtime':>9} {'ssh':>6}")
    print(f"{'runbook':<44} {wall:>7.1f}s {1.0:>6.2f}x {downtime(facts):>8.1f}s {'':>6}")
    ratios = []
    for mode in ("serial", "parallel"):
        lab = Lab.up(
            base / f"by-hand-{mode}",
            frontends=frontends,
            hypervisors=hypervisors,
            latencies=LATENCIES,
        )
        try:
            cost = run_by_hand(lab, mode, forks)
        finally:
            lab.down()
        ratios.append(cost.wall / wall)
        label = f"by hand, plain OpenSSH, {mode}" + (
            f" (forks {forks})" if mode == "parallel" else ""
        )
        print(
            f"{label:<44} {cost.wall:>7.1f}s {cost.wall / wall:>6.2f}x "
            f"{cost.downtime:>8.1f}s {cost.connections:>6}"
        )
    print()
    return f"vs by hand: {ratios[0]:.1f} x serial, {ratios[1]:.1f} x parallel"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description="scale benchmark")
    parser.add_argument("--frontends", type=int, default=3)
    parser.add_argument("--hypervisors", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--keep", type=Path, default=None, help="keep lab files and reports here")
    parser.add_argument("--overlap-followers", action="store_true", help="run the runbook with it")
    parser.add_argument(
        "--no-by-hand", action="store_true", help="skip the by-hand comparison (minutes serially)"
    )
    args = parser.parse_args(argv)
    extra = ("--overlap-followers",) if args.overlap_followers else ()
    return run(
        args.frontends, args.hypervisors, args.forks, args.keep, extra, by_hand=not args.no_by_hand
    )


if __name__ == "__main__":
    sys.exit(main())

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
  audit log (see the model below), never measured;
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

The critical-path model follows the work's dependencies, not the order the runbook
happened to run it in. Every executed command of the audit log gets the latency
the simulation slept for it, found by the simulation's own matching
(`onelab.sim.faults.matches` over the tokens of the simulated tool in the
command): the sum of the matching tool rules, plus the package managers'
pseudo-latencies "<tool> download" (when the transaction fetched packages: apt
says "Need to get N MB", dnf lists the downloaded rpms) and "<tool> install" (when
it installed: apt "Unpacking", dnf "Running transaction"). Per-command costs that
are not latencies (SSH round trip, process start-up on the node, the controller's
own work) are the overhead this bench measures, so they count zero. Then per test
of the runbook (tests run one after another):
- serial tests: the sum of their commands' latencies;
- fan-out tests (the work of `Cluster.fan_out`): the commands of the fanned-out
  nodes are grouped per node into a chain (the sum of its latencies); the chains
  are handed, in the order the runbook submits them (inventory order), to
  --forks workers, each to the first free one (list scheduling, as the thread
  pool does); the test costs its makespan plus the latencies of the commands on
  the other nodes (run serially by the test itself, e.g. step 9's `onehost sync`
  on the leader, step 7's start of the leader before its followers);
- background work: a hypervisor's download that step 3 leaves running (download-only
  on a hypervisor in step 3) is not part of step 3's cost; the downloads start when
  step 3's own work is done, on --forks workers of their own, and each hypervisor's
  chain in step 9 cannot start before its download ends;
  with --overlap-followers a follower's commands of step 4 are its step 5 work,
  started with the leader's; its chain of the next fan-out (step 6) waits for them;
- waits that the simulation imposes: a started follower lags the leader's COMMIT
  for `raft.SYNC_LAG` s (step 8 waits for it) and an enabled host stays in INIT
  for `pool.INIT_WINDOW` s (step 9 waits for MONITORED).
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.by_hand import run_by_hand
from onelab import Lab
from onelab.invoke import ROOT, runbook_argv
from onelab.sim import faults, pool, raft

# Seconds each simulated command sleeps. Real durations on a production cluster,
# divided by about 5 so that 3 + 50 runs in about a minute and a half: a package
# download ~30 s (6), its install ~20 s (4), `onedb upgrade` of a mid-size database
# ~15 s (3), `onedb fsck`, `onedb backup` ~5 s (1), `onedb restore` ~8 s (1.5),
# starting OpenNebula's units ~5 s (1), restarting libvirt ~5 s (1), `onehost sync`
# to every host ~10 s (2), a repository refresh ~2.5 s (0.5).
LATENCIES: dict[str, float] = {
    "apt-get download": 6.0,
    "apt-get install": 4.0,
    "apt-get update": 0.5,
    "onedb upgrade": 3.0,
    "onedb fsck": 1.0,
    "onedb backup": 1.0,
    "onedb restore": 1.5,
    "systemctl start": 1.0,
    "systemctl restart": 1.0,
    "onehost sync": 2.0,
}

# Tests whose work is fanned out with `Cluster.fan_out`, and over which nodes.
FAN_OUT: dict[str, str] = {
    "test_every_node_answers_over_ssh_with_its_pinned_host_key": "all",
    "test_every_node_runs_a_supported_os_and_a_known_release": "all",
    "test_packages_are_downloaded_while_opennebula_still_runs": "all",
    "test_every_follower_is_upgraded": "followers",
    "test_every_follower_has_the_leaders_database_and_configuration": "followers",
    "test_the_leader_then_the_followers_are_started": "followers",
    "test_every_hypervisor_is_upgraded_and_enabled_again": "hypervisors",
}
# Waits the simulation imposes after the last command of a test (see the docstring).
SIM_WAITS: dict[str, float] = {
    "test_one_leader_and_every_follower_in_sync": raft.SYNC_LAG,
    "test_every_hypervisor_is_upgraded_and_enabled_again": pool.INIT_WINDOW,
}
PACKAGE_TOOLS = {"apt-get", "dnf", "yum"}
_APT_FETCH = re.compile(r"^Need to get (?!0 B)", re.M)
_DNF_FETCH = re.compile(r"^\(\d+/\d+\): ", re.M)


# ----------------------------------------------------------------- latencies


def tool_tokens(command: str) -> list[list[str]]:
    """The argv (tool first) of every simulated tool a shell command runs."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        words = command.split()
    found: list[list[str]] = []
    current: list[str] | None = None
    for word in words:
        if word in {"|", "||", "&&", ";"}:
            current = None
            continue
        name = word.rsplit("/", 1)[-1]
        if current is None and name in faults.SIM_TOOLS:
            current = [name]
            found.append(current)
        elif current is not None:
            current.append(word)
    return found


def latency(record: dict[str, Any], latencies: dict[str, float]) -> float:
    """Seconds the simulation slept for this command (its rules, as the sim matches them)."""
    total = 0.0
    out = str(record.get("stdout", ""))
    for tokens in tool_tokens(str(record["command"])):
        tool = tokens[0]
        for pattern, secs in latencies.items():
            if faults.is_pseudo(pattern, tool):
                continue
            if faults.is_tool_rule(pattern) and faults.matches(pattern, tokens):
                total += secs
        if tool in PACKAGE_TOOLS:
            fetched = _APT_FETCH.search(out) if tool == "apt-get" else _DNF_FETCH.search(out)
            installed = "Unpacking " in out or "Running transaction" in out
            if fetched:
                total += latencies.get(f"{tool} download", 0.0)
            if installed:
                total += latencies.get(f"{tool} install", 0.0)
    return total


# ------------------------------------------------------------ critical path


def executed(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit log's commands that ran (a dry run's planned ones did not)."""
    return [r for r in audit if r.get("kind") == "command" and not r.get("planned")]


def makespan(chains: Iterable[float], workers: int) -> float:
    """Chains handed in order to the first free of `workers` workers (list scheduling)."""
    return max(
        schedule(((str(i), c, 0.0) for i, c in enumerate(chains)), workers).values(), default=0.0
    )


def schedule(chains: Iterable[tuple[str, float, float]], workers: int) -> dict[str, float]:
    """When each (name, length, ready) chain ends, handed in order to the first free of
    `workers` workers; a chain cannot start before it is ready (its download, say)."""
    free = [0.0] * max(1, workers)
    ends: dict[str, float] = {}
    for name, length, ready in chains:
        start = max(heapq.heappop(free), ready)
        heapq.heappush(free, start + length)
        ends[name] = start + length
    return ends


def is_background(record: dict[str, Any], roles: dict[str, str], leader: str) -> bool:
    """Work a step leaves running in the background: a hypervisor's download in step 3
    (it starts when step 3's own work is done), a follower's upgrade in step 4
    (--overlap-followers: it starts with the leader's)."""
    command, node, step = str(record["command"]), str(record["node"]), str(record["step"])
    if roles.get(node) == "hypervisor" and step.startswith("03:"):
        return "--download-only" in command or "--downloadonly" in command
    return roles.get(node) == "frontend" and node != leader and step.startswith("04:")


@dataclass
class TestCost:
    step: str
    test: str
    critical: float
    measured: float  # first command start to last command end
    commands: int
    per_node: dict[str, float] = field(default_factory=dict)


def critical_path(
    audit: list[dict[str, Any]],
    latencies: dict[str, float],
    order: list[str],
    roles: dict[str, str],
    leader: str,
    forks: int,
) -> list[TestCost]:
    commands = executed(audit)
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in commands:
        by_test[str(r["step"])].append(r)
    costs = []
    clock = 0.0  # the model's time at the start of the test (tests run one after another)
    ready: dict[str, float] = {}  # hypervisor -> when its background download ends
    for step, records in by_test.items():
        test = step.split(":", 1)[-1].split("[", 1)[0]
        kind = FAN_OUT.get(test)
        fanned = {
            "all": set(order),
            "followers": {n for n in order if roles[n] == "frontend" and n != leader},
            "hypervisors": {n for n in order if roles[n] == "hypervisor"},
        }.get(kind or "", set())
        chains: dict[str, float] = defaultdict(float)
        background: dict[str, float] = defaultdict(float)
        serial = 0.0
        for r in records:
            secs = latency(r, latencies)
            if is_background(r, roles, leader):
                background[str(r["node"])] += secs
            elif r["node"] in fanned:
                chains[str(r["node"])] += secs
            else:
                serial += secs
        # a node's chain waits for its own background work (the dependency, not the order):
        # a hypervisor's download, a follower's overlapped upgrade
        ends = schedule(
            ((n, chains[n], max(0.0, ready.get(n, 0.0) - clock)) for n in order if n in chains),
            forks,
        )
        span = max(ends.values(), default=0.0)
        first = min(float(r["started"]) for r in records)
        last = max(float(r["started"]) + float(r["duration"]) for r in records)
        crit = serial + span + SIM_WAITS.get(test, 0.0)
        costs.append(TestCost(step, test, crit, last - first, len(records), dict(chains)))
        if background:  # on workers of their own: downloads after the test's work,
            # the followers' upgrade with it
            begins = clock if step.startswith("04:") else clock + crit
            done = schedule(((n, background[n], 0.0) for n in order if n in background), forks)
            ready.update({n: begins + end for n, end in done.items()})
        clock += crit
    return costs


# ---------------------------------------------------------------------- run


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
            epoch_ended = epoch_started + wall
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            rss_kib = after.ru_maxrss
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            roles = {s.name: s.role for s in lab.specs}
            order = [s.name for s in lab.specs]
        finally:
            lab.down()
        (base / "pytest.out").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            print(proc.stdout[-4000:] + proc.stderr[-2000:])
            print(f"the runbook FAILED (exit {proc.returncode}); figures below are of that run")
        logs = sorted(reports.glob("*/*.jsonl"), key=lambda p: p.stat().st_mtime)
        if not logs:
            print("no audit log: nothing to measure")
            return 1
        audit = [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]
        journal = json.loads((logs[-1].parent / "journal.json").read_text())
        facts = journal["campaign"]["facts"]
        print(f"CPU time of the pytest process (the controller): {cpu:.1f} s")
        edges(audit, epoch_started, epoch_ended)
        last = report(audit, facts, roles, order, forks, wall, rss_kib, proc.returncode)
        if by_hand:
            last += " " + compare_by_hand(base, frontends, hypervisors, forks, wall, facts)
        print(last)
        if keep:
            print(f"kept: {base}")
        return proc.returncode


def compare_by_hand(
    base: Path, frontends: int, hypervisors: int, forks: int, wall: float, facts: dict[str, Any]
) -> str:
    """The documented procedure by hand (bench.by_hand) on identical fresh labs, serial
    and `forks` hypervisors at a time; its figures beside the runbook's."""
    start, end = facts.get("downtime_start"), facts.get("downtime_end")
    downtime = float(end) - float(start) if start and end else float("nan")
    print()
    print(f"{'the same upgrade':<44} {'wall':>8} {'ratio':>7} {'downtime':>9} {'ssh':>6}")
    print(f"{'runbook':<44} {wall:>7.1f}s {1.0:>6.2f}x {downtime:>8.1f}s {'':>6}")
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


def report(
    audit: list[dict[str, Any]],
    facts: dict[str, Any],
    roles: dict[str, str],
    order: list[str],
    forks: int,
    wall: float,
    rss_kib: int,
    returncode: int,
) -> str:
    """Print the figures; the last line (for the caller to complete and print)."""
    leader = str(facts.get("leader") or order[0])
    costs = critical_path(audit, LATENCIES, order, roles, leader, forks)
    critical = sum(c.critical for c in costs)
    in_downtime = sum(c.critical for c in costs if "04" <= c.step[:2] <= "08")
    conns = next((r for r in audit if r.get("kind") == "connections"), {})
    opened = int(conns.get("opened", -1))
    ran = executed(audit)
    start, end = facts.get("downtime_start"), facts.get("downtime_end")
    downtime = float(end) - float(start) if start and end else float("nan")
    print()
    print(f"{'test':<72} {'cmds':>5} {'critical':>9} {'measured':>9}")
    for c in costs:
        if "[" in c.step and c.critical == 0:
            continue  # per-node checks: summed below
        print(f"{c.step[:72]:<72} {c.commands:>5} {c.critical:>8.2f}s {c.measured:>8.2f}s")
    checks = [c for c in costs if "[" in c.step and c.critical == 0]
    if checks:
        label = f"({len(checks)} per-node checks)"
        n, m = sum(c.commands for c in checks), sum(c.measured for c in checks)
        print(f"{label:<72} {n:>5} {0.0:>8.2f}s {m:>8.2f}s")
    print()
    print(f"runbook exit status: {returncode}")
    print(f"wall: {wall:.1f} s (pytest subprocess, start-up included)")
    print(f"critical path: {critical:.1f} s (computed from the latencies and --forks {forks})")
    print(f"overhead ratio: {wall / critical:.3f}")
    print(
        f"control-plane downtime: {downtime:.1f} s "
        f"(critical path of steps 4-8: {in_downtime:.1f} s)"
    )
    print(f"SSH connections opened: {opened} for {len(order)} nodes")
    changing = sum(1 for r in ran if r.get("mutating"))
    print(f"commands run: {len(ran)} ({changing} changing)")
    print(f"peak RSS of the pytest process: {rss_kib / 1024:.0f} MiB")
    return (
        f"overhead ratio {wall / critical:.2f} wall {wall:.1f} s critical path {critical:.1f} s "
        f"downtime {downtime:.1f} s connections {opened}"
    )


def edges(audit: list[dict[str, Any]], started: float, ended: float) -> None:
    """Where the wall time outside the commands went: before the first, after the last."""
    ran = executed(audit)
    if not ran:
        return
    first = min(float(r["started"]) for r in ran)
    last = max(float(r["started"]) + float(r["duration"]) for r in ran)
    print(
        f"before the first command: {first - started:.2f} s (pytest start-up, collection, "
        f"connections); after the last: {ended - last:.2f} s (report, journal, exit)"
    )


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

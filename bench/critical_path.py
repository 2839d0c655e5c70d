"""The benchmark's critical-path model: what the latencies and --forks allow, computed
from a run's audit log, never measured.

The critical-path model follows the work's dependencies, not the order the runbook
happened to run it in. Every executed command of the audit log gets the latency
the simulation slept for it (`bench.latency`); per-command costs that are not
latencies count zero. Then per test of the runbook (tests run one after another):
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
  a follower's commands of step 4 are its step 5 work begun during the leader's (its
  backups; with --overlap-followers all of it), started with the step (the moment
  the backups wait for the leader's own is hidden in the leader's upgrade); its
  chain of the next fan-out waits for them;
- waits that the simulation imposes: a started follower lags the leader's COMMIT
  for `raft.SYNC_LAG` s (step 8 waits for it) and an enabled host stays in INIT
  for `pool.INIT_WINDOW` s (step 9 waits for MONITORED).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.latency import latency
from onelab.sim import pool, raft

__all__ = ["TestCost", "critical_path", "executed", "is_background", "makespan", "schedule"]

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
    (it starts when step 3's own work is done), a follower's step 5 work begun in step 4
    (its backups, or with --overlap-followers its whole upgrade)."""
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


@dataclass
class _Work:
    """A test's commands' latencies: per fanned-out node, in the background, serial."""

    chains: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    background: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    serial: float = 0.0


def critical_path(
    audit: list[dict[str, Any]],
    latencies: dict[str, float],
    order: list[str],
    roles: dict[str, str],
    leader: str,
    forks: int,
) -> list[TestCost]:
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in executed(audit):
        by_test[str(r["step"])].append(r)
    costs = []
    clock = 0.0  # the model's time at the start of the test (tests run one after another)
    ready: dict[str, float] = {}  # hypervisor -> when its background download ends
    for step, records in by_test.items():
        test = step.split(":", 1)[-1].split("[", 1)[0]
        work = _work(records, latencies, _fanned(test, order, roles, leader), roles, leader)
        span = _span(work.chains, order, ready, clock, forks)
        crit = work.serial + span + SIM_WAITS.get(test, 0.0)
        costs.append(
            TestCost(step, test, crit, _measured(records), len(records), dict(work.chains))
        )
        if work.background:  # on workers of their own: downloads after the test's work,
            # the followers' upgrade with it
            begins = clock if step.startswith("04:") else clock + crit
            done = schedule(
                ((n, work.background[n], 0.0) for n in order if n in work.background), forks
            )
            ready.update({n: begins + end for n, end in done.items()})
        clock += crit
    return costs


def _fanned(test: str, order: list[str], roles: dict[str, str], leader: str) -> set[str]:
    """The nodes a test fans its work out over (none: a serial test)."""
    kind = FAN_OUT.get(test)
    return {
        "all": set(order),
        "followers": {n for n in order if roles[n] == "frontend" and n != leader},
        "hypervisors": {n for n in order if roles[n] == "hypervisor"},
    }.get(kind or "", set())


def _span(
    chains: dict[str, float], order: list[str], ready: dict[str, float], clock: float, forks: int
) -> float:
    """The makespan of a test's chains on `forks` workers, the test starting at `clock`."""
    # a node's chain waits for its own background work (the dependency, not the order):
    # a hypervisor's download, a follower's overlapped upgrade
    ends = schedule(
        ((n, chains[n], max(0.0, ready.get(n, 0.0) - clock)) for n in order if n in chains),
        forks,
    )
    return max(ends.values(), default=0.0)


def _work(
    records: list[dict[str, Any]],
    latencies: dict[str, float],
    fanned: set[str],
    roles: dict[str, str],
    leader: str,
) -> _Work:
    work = _Work()
    for r in records:
        secs = latency(r, latencies)
        if is_background(r, roles, leader):
            work.background[str(r["node"])] += secs
        elif r["node"] in fanned:
            work.chains[str(r["node"])] += secs
        else:
            work.serial += secs
    return work


def _measured(records: list[dict[str, Any]]) -> float:
    """First command start to last command end."""
    first = min(float(r["started"]) for r in records)
    last = max(float(r["started"]) + float(r["duration"]) for r in records)
    return last - first

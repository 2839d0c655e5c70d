"""The figures `make bench` prints for the runbook's run: its tests' critical path
beside what they measured, the totals, and where the wall time outside the commands
went."""

from __future__ import annotations

from typing import Any

from bench.critical_path import TestCost, critical_path, executed
from bench.latency import LATENCIES

__all__ = ["downtime", "edges", "report"]


def downtime(facts: dict[str, Any]) -> float:
    """The journal's downtime_start to downtime_end (NaN when either is missing)."""
    start, end = facts.get("downtime_start"), facts.get("downtime_end")
    return float(end) - float(start) if start and end else float("nan")


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
    down = downtime(facts)
    _per_test(costs)
    print(f"runbook exit status: {returncode}")
    print(f"wall: {wall:.1f} s (pytest subprocess, start-up included)")
    print(f"critical path: {critical:.1f} s (computed from the latencies and --forks {forks})")
    print(f"overhead ratio: {wall / critical:.3f}")
    print(f"control-plane downtime: {down:.1f} s (critical path of steps 4-8: {in_downtime:.1f} s)")
    print(f"SSH connections opened: {opened} for {len(order)} nodes")
    changing = sum(1 for r in ran if r.get("mutating"))
    print(f"commands run: {len(ran)} ({changing} changing)")
    print(f"peak RSS of the pytest process: {rss_kib / 1024:.0f} MiB")
    return (
        f"overhead ratio {wall / critical:.2f} wall {wall:.1f} s critical path {critical:.1f} s "
        f"downtime {down:.1f} s connections {opened}"
    )


def _per_test(costs: list[TestCost]) -> None:
    """The table of the tests' commands, critical path and measured time."""
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

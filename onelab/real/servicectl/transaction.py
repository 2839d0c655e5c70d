"""One systemctl call's jobs run as systemd runs a transaction: all at once, each in a
process of its own, except where After=/Before= orders two of them. A start waits for the
starts of the units it is ordered after, a stop for the stops of the units ordered after
it (the reverse), and a start whose Requires= unit failed fails as a dependency."""

from __future__ import annotations

import os

from .units import Unit

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from collections.abc import Callable

# A job's result, '' when done, else why it failed; a job process exits with its index.
RESULTS = ("", "failed", "timeout", "resources", "assert", "dependency")


def ordering(units: dict[str, Unit]) -> dict[str, set[str]]:
    """For each unit, the units of `units` it is ordered after (its After=, their Before=)."""
    after = {n: set(u.words("After")) & set(units) for n, u in units.items()}
    for n, u in units.items():
        for b in set(u.words("Before")) & set(units):
            after[b].add(n)
    return after


def reverse(after: dict[str, set[str]]) -> dict[str, set[str]]:
    """The stop order of `after`: each unit waits for the units ordered after it."""
    return {n: {m for m, deps in after.items() if n in deps} for n in after}


def run(
    units: dict[str, Unit],
    job: Callable[[Unit], str],
    waits_for: dict[str, set[str]],
    requires: dict[str, set[str]] | None = None,
) -> dict[str, str]:
    """Run `job` on every unit once the units' jobs it waits for have ended, each as soon
    as it may (a cycle is broken at its first job, as systemd drops an ordering); each
    unit's result."""
    results: dict[str, str] = {}
    running: dict[int, str] = {}
    pending = list(units)  # in the caller's order, for jobs free at the same moment
    while pending or running:
        busy = {*pending, *running.values()}
        ready = [n for n in pending if not waits_for.get(n, set()) & (busy - {n})]
        if not ready and not running:
            ready = pending[:1]  # an ordering cycle
        for name in ready:
            pending.remove(name)
            failed = {n for n, why in results.items() if why}
            if (requires or {}).get(name, set()) & failed:
                results[name] = "dependency"
                continue
            running[_fork(job, units[name])] = name
        if not running:
            continue
        pid, status = os.waitpid(-1, 0)
        name = running.pop(pid, "")
        if name:
            code = os.waitstatus_to_exitcode(status)
            results[name] = RESULTS[code] if 0 <= code < len(RESULTS) else "failed"
    return results


def _fork(job: Callable[[Unit], str], unit: Unit) -> int:
    pid = os.fork()
    if pid:
        return pid
    why = "resources"
    try:
        why = job(unit)
    finally:  # a job's process never returns into the caller's loop
        os._exit(RESULTS.index(why) if why in RESULTS else 1)

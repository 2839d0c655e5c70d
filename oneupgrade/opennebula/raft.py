"""Is the zone in sync? Judged over a few readings of `onezone show`, as raft works.

`onezone show` asks the servers one after another, and a follower learns the
leader's commit index with the next append or heartbeat (every 500 ms), so a
healthy follower's COMMIT read a moment after the leader's may be a little behind,
and on a busy zone (monitoring writes all the time) the two may never be equal in
one reading. A follower is in sync when, within a few heartbeats, it reaches the
COMMIT the leader showed in an earlier reading; one that does not is stalled. What
re-reading cannot mend (no single leader, a server in error or candidate, a
follower on another TERM) is refused at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from oneupgrade.opennebula.onezone import Zone

CATCH_UP = 3.0  # seconds a lagging follower is given: six heartbeats
PAUSE = 0.25  # between readings: half a heartbeat


def _commit(value: str) -> int:
    return int(value) if value.lstrip("-").isdigit() else -1


def settle(
    read: Callable[[], Zone],
    *,
    patience: float = CATCH_UP,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Zone, list[str]]:
    """(the last reading, why the zone is not in sync: [] when it is)."""
    zone = read()
    problems = zone.lasting_problems()
    if problems or not zone.servers:
        return zone, problems
    leader = zone.leaders[0]
    target = _commit(leader.commit)
    deadline = clock() + patience
    while True:
        behind = [s for s in zone.followers if _commit(s.commit) < target]
        if not behind:
            return zone, []
        if clock() >= deadline:
            return zone, [
                f"server {s.id} ({s.name}) commit {s.commit} has not reached the leader's "
                f"{target} within {patience:g} s (not in sync)"
                for s in behind
            ]
        sleep(PAUSE)
        zone = read()
        problems = zone.lasting_problems()
        if problems:
            return zone, problems
        if zone.leaders[0].id != leader.id:  # a new leader: judge against its commit
            leader = zone.leaders[0]
            target = _commit(leader.commit)


def wait_healthy(
    read: Callable[[], Zone], timeout: float, errors: tuple[type[Exception], ...] = ()
) -> tuple[Zone | None, list[str], float]:
    """Read the zone until it is healthy or `timeout` seconds pass: (the zone, what is
    still wrong, when it was first seen healthy). Servers catch up within a second or
    two of their start: polled every 0.1 s for the first 2 s, then backing off. A read
    failing with one of `errors` counts as not healthy yet."""
    deadline = time.monotonic() + timeout
    problems: list[str] = ["no answer yet"]
    zone: Zone | None = None
    pause, fast_until = 0.1, time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            zone, problems = settle(
                read, patience=max(0.0, min(CATCH_UP, deadline - time.monotonic()))
            )
        except errors as exc:
            problems = [str(exc).splitlines()[0]]
        else:
            if not problems:
                return zone, [], time.time()
        time.sleep(pause)
        if time.monotonic() >= fast_until:
            pause = min(pause * 1.5, 2.0)
    return zone, problems, 0.0

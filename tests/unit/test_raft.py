"""raft.settle: a follower a heartbeat behind is in sync, a stalled one is not."""

from __future__ import annotations

from collections.abc import Iterator

from oneupgrade.opennebula import raft
from oneupgrade.opennebula.onezone import FOLLOWER, LEADER, Zone, ZoneServer


def _zone(*servers: tuple[str, str, str]) -> Zone:
    """servers: (state, term, commit) for server ids 0, 1, 2 ..."""
    return Zone(
        0,
        "OpenNebula",
        True,
        tuple(
            ZoneServer(
                i, f"fe{i + 1}", f"http://10.0.0.{i + 1}:2633/RPC2", st, term, commit, commit
            )
            for i, (st, term, commit) in enumerate(servers)
        ),
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _settle(readings: list[Zone]) -> tuple[Zone, list[str], int]:
    it: Iterator[Zone] = iter(readings)
    count = 0
    last = readings[-1]

    def read() -> Zone:
        nonlocal count
        count += 1
        return next(it, last)

    clock = _Clock()
    zone, problems = raft.settle(read, sleep=clock.sleep, clock=clock)
    return zone, problems, count


def test_a_follower_one_entry_behind_that_catches_up_is_in_sync() -> None:
    behind = _zone((LEADER, "4", "120"), (FOLLOWER, "4", "119"), (FOLLOWER, "4", "120"))
    caught = _zone((LEADER, "4", "121"), (FOLLOWER, "4", "120"), (FOLLOWER, "4", "121"))
    _, problems, reads = _settle([behind, caught])
    assert problems == []
    assert reads == 2  # on a busy zone the two are never equal: reaching 120 is enough


def test_a_stalled_follower_is_refused_naming_it_after_the_patience() -> None:
    stalled = _zone((LEADER, "4", "120"), (FOLLOWER, "4", "117"), (FOLLOWER, "4", "120"))
    _, problems, reads = _settle([stalled])
    assert problems == [
        "server 1 (fe2) commit 117 has not reached the leader's 120 within 3 s (not in sync)"
    ]
    assert reads > 2


def test_a_candidate_or_another_term_is_refused_at_once() -> None:
    candidate = _zone((LEADER, "4", "120"), ("1", "5", "120"), (FOLLOWER, "4", "120"))
    _, problems, reads = _settle([candidate])
    assert problems == ["server 1 (fe2) is candidate"]
    assert reads == 1
    other_term = _zone((LEADER, "4", "120"), (FOLLOWER, "3", "120"), (FOLLOWER, "4", "120"))
    _, problems, reads = _settle([other_term])
    assert problems == ["server 1 (fe2) term 3 != leader's 4"]
    assert reads == 1


def test_a_server_in_error_seen_on_a_reread_is_refused() -> None:
    behind = _zone((LEADER, "4", "120"), (FOLLOWER, "4", "119"), (FOLLOWER, "4", "120"))
    broken = _zone((LEADER, "4", "121"), ("4", "4", "119"), (FOLLOWER, "4", "121"))
    _, problems, _ = _settle([behind, broken])
    assert problems == ["server 1 (fe2) is error"]

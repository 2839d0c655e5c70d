"""Does the zone replicate? A write through the leader, proven on every server.

`onezone show` can show one leader and its followers on one TERM while writes no
longer commit: each server answers for itself, and a follower that acknowledges
records it does not store still looks "in sync" until the next write. So step 8
writes: a group named `oneupgrade-probe` is created through the leader (the
CLI's wait bounded by ONE_XMLRPC_TIMEOUT), every server's LOG_INDEX and COMMIT must then
reach the leader's COMMIT of the moment the write returned (which includes it),
within seconds; the group is deleted and the same is proven again. The group and the ACL
rule `onegroup create` adds for it are gone afterwards (oned drops a group's rules
with it). A probe group left by a run stopped between the two writes is deleted
first. Both writes are changing commands: a dry run lists them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from oneupgrade.opennebula.cli import as_list, read_json
from oneupgrade.opennebula.onezone import Zone
from oneupgrade.transport.node import Node

# One name for every run, deleted by name, so that a dry run's plan and the real run's
# commands are the same (the signed plan is compared with what a run did).
NAME = "oneupgrade-probe"
WRITE_TIMEOUT = 10  # seconds the CLI waits for each probe write (ONE_XMLRPC_TIMEOUT)
COMMIT_WITHIN = 5.0  # seconds every server is given to commit a probe write
PAUSE = 0.2

# Why a zone whose followers fall behind a probe write may be stalled (say once, after
# the servers' positions): read in the source of 6.10.5, 7.0.2 and 7.2.0.
SQLITE_DEFECT = (
    "on SQLite this is a defect of OpenNebula's SQLite backend (SqliteDB::exec_ext counts "
    "sqlite3_changes() as the rows a SELECT found, so a follower acknowledges raft records "
    "it does not store and catches up one record per LOG_PURGE_TIMEOUT); the HA guide "
    "recommends MySQL/MariaDB for HA zones"
)


@dataclass(frozen=True)
class Probe:
    """What the probe proved: the group it wrote and how long each write took to
    commit on every server (seconds, from the command's start)."""

    group: str
    group_id: int | None
    created_in: float
    deleted_in: float


class ProbeFailed(Exception):
    """The zone did not replicate a probe write; the message says where each server is."""


def leftovers(leader: Node) -> list[int]:
    """Ids of probe groups an earlier run left (stopped between create and delete)."""
    pool = read_json(leader, "onegroup list -j").get("GROUP_POOL") or {}
    groups = as_list(pool.get("GROUP"))
    return [int(g["ID"]) for g in groups if g.get("NAME") == NAME]


def positions(zone: Zone) -> str:
    """Each server's INDEX/COMMIT, the leader first: `fe1 (leader) 57/55, fe2 54/54`."""
    ordered = sorted(zone.servers, key=lambda s: (s not in zone.leaders, s.id))
    return ", ".join(
        f"{s.name} ({s.role}) {s.log_index}/{s.commit}" if s in zone.leaders
        else f"{s.name} {s.log_index}/{s.commit}"
        for s in ordered
    )  # fmt: skip


def _number(value: str) -> int:
    return int(value) if value.lstrip("-").isdigit() else -1


def replicated(zone: Zone, target: int) -> bool:
    """Every server holds and has committed `target` (its LOG_INDEX and COMMIT at or past
    it): the write is on every server. Not "all equal": on a busy zone the leader always
    has a record in flight, and its followers' COMMIT trails it by a heartbeat."""
    if not zone.servers or len(zone.leaders) != 1:
        return not zone.servers  # a solo front-end commits alone
    return all(_number(s.log_index) >= target and _number(s.commit) >= target for s in zone.servers)


def wait_replicated(
    read: Callable[[], Zone],
    target: int,
    patience: float = COMMIT_WITHIN,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, Zone]:
    """Re-read the zone until `target` is replicated on every server or `patience` ends."""
    deadline = clock() + patience
    while True:
        zone = read()
        if replicated(zone, target) or clock() >= deadline:
            return replicated(zone, target), zone
        sleep(PAUSE)


def _leader_index(read: Callable[[], Zone]) -> int:
    """The leader's COMMIT now: a write the CLI saw succeed is committed, so at or below it
    (its INDEX may be ahead: records in flight on a busy zone)."""
    leaders = read().leaders
    return _number(leaders[0].commit) if leaders else 0


def _write(leader: Node, command: str) -> tuple[int, str]:
    """(exit status, output) of a probe write, the CLI's wait bounded."""
    bounded = f"ONE_XMLRPC_TIMEOUT={WRITE_TIMEOUT} {command}"
    result = leader.run(bounded, mutating=True, check=False, timeout=WRITE_TIMEOUT + 30)
    return result.exit_status, (result.stdout + result.stderr).strip()


def _failed(
    command: str, leader: Node, status: int, output: str, zone: Zone, sqlite: bool
) -> ProbeFailed:
    """A probe write that failed: one the CLI gave up waiting for is a stalled zone, one
    oned answered with an error was refused (the error says why)."""
    first = output.splitlines()[0] if output else f"exit {status}"
    what = f"`{command}` of the probe through {leader} failed ({first})"
    if "timeout" in output.lower() or "timed out" in output.lower():
        return _stalled(what, zone, sqlite)
    return ProbeFailed(f"{what}: oned refused the write ({positions(zone)}, INDEX/COMMIT)")


def _stalled(what: str, zone: Zone, sqlite: bool) -> ProbeFailed:
    line = f"{what}: the zone does not replicate writes ({positions(zone)}, INDEX/COMMIT)"
    return ProbeFailed(line + ("; " + SQLITE_DEFECT if sqlite else ""))


def run(
    leader: Node,
    read: Callable[[], Zone],
    *,
    sqlite: bool = False,
    patience: float = COMMIT_WITHIN,
) -> Probe:
    """Create and delete a probe group through `leader`, each write proven replicated on
    every server within `patience` seconds; `ProbeFailed` names the servers' positions
    (and the SQLite defect when the zone is on SQLite)."""
    for left in leftovers(leader):
        _write(leader, f"onegroup delete {left}")
    name = NAME
    started = time.monotonic()
    status, output = _write(leader, f"onegroup create {name}")
    if leader.dry_run:
        _write(leader, f"onegroup delete {name}")
        return Probe(name, None, 0.0, 0.0)
    if status != 0:
        raise _failed("onegroup create", leader, status, output, read(), sqlite)
    found = re.search(r"ID:\s*(\d+)", output)
    gid = int(found.group(1)) if found else None
    ok, zone = wait_replicated(read, _leader_index(read), patience)
    if not ok:
        raise _stalled(f"the probe write ({name}) did not commit on every server "
                       f"within {patience:g} s", zone, sqlite)  # fmt: skip
    created_in = time.monotonic() - started
    started = time.monotonic()
    status, output = _write(leader, f"onegroup delete {name}")
    if status != 0:
        raise _failed("onegroup delete", leader, status, output, read(), sqlite)
    ok, zone = wait_replicated(read, _leader_index(read), patience)
    if not ok:
        raise _stalled(f"the probe's delete did not commit on every server within "
                       f"{patience:g} s", zone, sqlite)  # fmt: skip
    return Probe(name, gid, created_in, time.monotonic() - started)

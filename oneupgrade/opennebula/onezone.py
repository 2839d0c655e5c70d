"""The zone and its HA servers as `onezone show -j` reports them, and `onezone enable|disable`.

A server whose oned does not answer shows `-` in every raft field (reference §4.6).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from oneupgrade.opennebula.cli import as_list, read_json
from oneupgrade.transport.node import Node

# Raft states (include/RaftManager.h)
SOLO, CANDIDATE, FOLLOWER, LEADER = "0", "1", "2", "3"
RAFT_NAMES = {"0": "solo", "1": "candidate", "2": "follower", "3": "leader"}


@dataclass(frozen=True)
class ZoneServer:
    id: int
    name: str
    endpoint: str
    state: str
    term: str
    commit: str
    log_index: str

    @property
    def address(self) -> str:
        return urlsplit(self.endpoint).hostname or ""

    @property
    def role(self) -> str:
        return RAFT_NAMES.get(self.state, "error")


@dataclass(frozen=True)
class Zone:
    id: int
    name: str
    enabled: bool
    servers: tuple[ZoneServer, ...]

    @property
    def leaders(self) -> list[ZoneServer]:
        return [s for s in self.servers if s.state == LEADER]

    @property
    def followers(self) -> list[ZoneServer]:
        return [s for s in self.servers if s.state == FOLLOWER]

    def lasting_problems(self) -> list[str]:
        """What no re-read mends: not exactly one leader, a server in error or candidate,
        a follower on another TERM."""
        if not self.servers:
            return []  # a solo front-end: no raft
        problems = []
        leaders = self.leaders
        if len(leaders) != 1:
            problems.append(f"{len(leaders)} leaders (want exactly 1)")
        for server in self.servers:
            if server.state not in (LEADER, FOLLOWER):
                problems.append(f"server {server.id} ({server.name}) is {server.role}")
        if len(leaders) == 1:
            for server in self.followers:
                if server.term != leaders[0].term:
                    problems.append(
                        f"server {server.id} ({server.name}) term {server.term} "
                        f"!= leader's {leaders[0].term}"
                    )
        return problems

    def health_problems(self) -> list[str]:
        """Why this one reading is not healthy: the lasting problems, or a follower whose
        COMMIT differs from the leader's (see raft.settle for a judgement over re-reads)."""
        problems = self.lasting_problems()
        if not problems and self.servers:
            leader = self.leaders[0]
            for server in self.followers:
                if server.commit != leader.commit:
                    problems.append(
                        f"server {server.id} ({server.name}) commit {server.commit} "
                        f"!= leader's {leader.commit} (not in sync)"
                    )
        return problems


def zone(node: Node, zone_id: int) -> Zone:
    data = read_json(node, f"onezone show {int(zone_id)} -j")["ZONE"]
    servers = tuple(
        ZoneServer(
            id=int(s["ID"]),
            name=s.get("NAME", ""),
            endpoint=s.get("ENDPOINT", ""),
            state=s.get("STATE", "-"),
            term=s.get("TERM", "-"),
            commit=s.get("COMMIT", "-"),
            log_index=s.get("LOG_INDEX", "-"),
        )
        for s in as_list((data.get("SERVER_POOL") or {}).get("SERVER"))
    )
    return Zone(int(data["ID"]), data.get("NAME", ""), data.get("STATE", "0") == "0", servers)


def servers_of(
    zone: Zone, frontends: Sequence[Node]
) -> tuple[dict[str, ZoneServer], ZoneServer | None]:
    """Each zone server's front-end, by its endpoint's address, else by its name:
    (front-end name -> its server, the first server that is no front-end or None)."""
    by_address = {n.address: n for n in frontends}
    by_name = {n.name: n for n in frontends}
    mapped: dict[str, ZoneServer] = {}
    for server in zone.servers:
        node = by_address.get(server.address) or by_name.get(server.name)
        if node is None:
            return mapped, server
        mapped[node.name] = server
    return mapped, None


def leader_of(mapped: dict[str, ZoneServer]) -> str | None:
    """The front-end whose server the zone shows as leader (None: no leader shown)."""
    leaders = [name for name, s in mapped.items() if s.state == LEADER]
    return leaders[0] if leaders else None


def set_zone(node: Node, action: str, zone_id: int) -> None:
    node.run(f"onezone {shlex.quote(action)} {int(zone_id)}", mutating=True)

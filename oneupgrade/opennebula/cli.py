"""Reading OpenNebula's CLI: `onezone show -j`, `onehost list -j`, `onevm list -j`.

The JSON of the CLI has traps (reference §2.4, §4.6, pitfall 18): every value is a
string, a pool with one element is a dict instead of a list, an empty pool is `{}`,
and servers whose oned does not answer show `-` in every raft field.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oneupgrade.errors import PreconditionFailed
from oneupgrade.transport.ssh import Node

# Raft states (include/RaftManager.h)
SOLO, CANDIDATE, FOLLOWER, LEADER = "0", "1", "2", "3"
RAFT_NAMES = {"0": "solo", "1": "candidate", "2": "follower", "3": "leader"}

# Host states (include/Host.h)
HOST_STATES = {
    0: "INIT",
    1: "MONITORING_MONITORED",
    2: "MONITORED",
    3: "ERROR",
    4: "DISABLED",
    5: "MONITORING_ERROR",
    6: "MONITORING_INIT",
    7: "MONITORING_DISABLED",
    8: "OFFLINE",
}
HOST_MONITORED, HOST_ERROR, HOST_DISABLED, HOST_OFFLINE = 2, 3, 4, 8

# The transient states the upgrade guide names ("prolog, migrate, epilog, save"):
# LCM states whose short name is prol, migr, epil or save (reference §4.2).
TRANSIENT_LCM_STATES = {
    1: "PROLOG",
    4: "MIGRATE",
    5: "SAVE_STOP",
    6: "SAVE_SUSPEND",
    7: "SAVE_MIGRATE",
    8: "PROLOG_MIGRATE",
    9: "PROLOG_RESUME",
    10: "EPILOG_STOP",
    11: "EPILOG",
    30: "EPILOG_UNDEPLOY",
    31: "PROLOG_UNDEPLOY",
    43: "PROLOG_MIGRATE_POWEROFF",
    45: "PROLOG_MIGRATE_SUSPEND",
    60: "PROLOG_MIGRATE_UNKNOWN",
}
VM_ACTIVE = 3


def as_list(value: Any) -> list[dict[str, Any]]:
    """A pool member as a list: a dict alone means one element, `{}` or None means none."""
    if not value:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def _json(node: Node, command: str) -> dict[str, Any]:
    result = node.run(command)
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise PreconditionFailed(
            f"{node}: `{command}` did not print JSON: {result.stdout[:200]!r}"
        ) from None
    return data


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
    data = _json(node, f"onezone show {int(zone_id)} -j")["ZONE"]
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


@dataclass(frozen=True)
class OneHost:
    id: int
    name: str
    state: int
    vm_mad: str
    version: str
    error: str
    im_mad: str = ""

    @property
    def state_name(self) -> str:
        return HOST_STATES.get(self.state, str(self.state))

    @property
    def enabled(self) -> bool:
        """Enabled means neither disabled nor offline (monitored, in error or initialising)."""
        return self.state not in (HOST_DISABLED, HOST_OFFLINE)


def hosts(node: Node) -> list[OneHost]:
    pool = _json(node, "onehost list -j").get("HOST_POOL") or {}
    out = []
    for h in as_list(pool.get("HOST")):
        template = h.get("TEMPLATE") or {}
        out.append(
            OneHost(
                int(h["ID"]),
                h.get("NAME", ""),
                int(h.get("STATE", "0")),
                h.get("VM_MAD", ""),
                template.get("VERSION", "") if isinstance(template, dict) else "",
                template.get("ERROR", "") if isinstance(template, dict) else "",
                h.get("IM_MAD", ""),
            )
        )
    return out


@dataclass(frozen=True)
class OneVnet:
    id: int
    name: str
    vn_mad: str


def vnets(node: Node) -> list[OneVnet]:
    pool = _json(node, "onevnet list -j").get("VNET_POOL") or {}
    return [
        OneVnet(int(n["ID"]), n.get("NAME", ""), n.get("VN_MAD", ""))
        for n in as_list(pool.get("VNET"))
    ]


@dataclass(frozen=True)
class OneVm:
    id: int
    name: str
    state: int
    lcm_state: int

    @property
    def transient_state(self) -> str | None:
        if self.state == VM_ACTIVE and self.lcm_state in TRANSIENT_LCM_STATES:
            return TRANSIENT_LCM_STATES[self.lcm_state]
        return None


def vms(node: Node) -> list[OneVm]:
    pool = _json(node, "onevm list -j").get("VM_POOL") or {}
    return [
        OneVm(
            int(v["ID"]), v.get("NAME", ""), int(v.get("STATE", "0")), int(v.get("LCM_STATE", "0"))
        )
        for v in as_list(pool.get("VM"))
    ]


@dataclass(frozen=True)
class HostMonitoring:
    """A host's last monitoring result: `onehost show` (the pool listing leaves it out)."""

    id: int
    timestamp: int  # when monitord last recorded a result (0: never)
    error: str  # TEMPLATE/ERROR: what the last failing probe said


_SHOWN = "--- oneupgrade: next host ---"


def host_monitoring(node: Node, host_ids: list[int]) -> dict[int, HostMonitoring]:
    """Each host's last monitoring result, all in one round trip."""
    if not host_ids:
        return {}
    script = "; ".join(f"onehost show -j {int(i)}; echo '{_SHOWN}'" for i in sorted(host_ids))
    found = {}
    for part in node.run(script, check=False).stdout.split(_SHOWN):
        try:
            host = json.loads(part)["HOST"]
        except (ValueError, KeyError, TypeError):
            continue  # a host deleted meanwhile answers an error, not JSON
        monitoring = host.get("MONITORING") or {}
        template = host.get("TEMPLATE") or {}
        found[int(host["ID"])] = HostMonitoring(
            int(host["ID"]),
            int(monitoring.get("TIMESTAMP", "0") or 0) if isinstance(monitoring, dict) else 0,
            str(template.get("ERROR", "")) if isinstance(template, dict) else "",
        )
    return found


def clock(node: Node) -> int:
    """The node's clock (the leader's: monitord stamps results with it)."""
    return int(node.run("date +%s").stdout.strip())


REMOTES_VERSION = "/var/lib/one/remotes/VERSION"


def remotes_version(node: Node) -> str:
    """The drivers' version on a front-end: what `onehost sync` compares hosts with."""
    return node.run(f"cat {REMOTES_VERSION}").stdout.strip()


def drivers_older(host_version: str, remotes: str) -> bool:
    """`onehost sync`'s own test (Gem::Version(host VERSION) < remotes/VERSION): a host
    that reports no VERSION counts as older."""

    def key(text: str) -> tuple[int, ...]:
        parts = []
        for part in text.strip().split("."):
            digits = "".join(c for c in part if c.isdigit())
            parts.append(int(digits) if digits else 0)
        return tuple(parts) if text.strip() else ()

    return key(host_version) < key(remotes)


def set_hosts(node: Node, action: str, host_ids: list[int]) -> None:
    """`onehost disable|enable|offline <ids>`: one command for all hosts."""
    if host_ids:
        ids = ",".join(str(i) for i in sorted(host_ids))
        node.run(f"onehost {shlex.quote(action)} {ids}", mutating=True)


def set_zone(node: Node, action: str, zone_id: int) -> None:
    node.run(f"onezone {shlex.quote(action)} {int(zone_id)}", mutating=True)

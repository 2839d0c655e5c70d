"""The hosts as `onehost list -j` and `onehost show -j` report them, and what the upgrade
does to them: `onehost disable|enable|offline` and the drivers' version `onehost sync`
compares."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from oneupgrade.opennebula.cli import as_list, read_json
from oneupgrade.transport.node import Node

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
    pool = read_json(node, "onehost list -j").get("HOST_POOL") or {}
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

"""Preflight's look at the cluster: what runs where, before anything changes."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.opennebula import database, onezone, system
from oneupgrade.transport.node import Node


@dataclass(frozen=True)
class NodeSurvey:
    name: str
    role: str
    platform: system.Platform
    packages: dict[str, str]
    opennebula: str | None  # the front-end or node package version

    @property
    def release(self) -> str | None:
        return self.opennebula


def survey_node(node: Node) -> NodeSurvey:
    plat, packages = system.platform_and_packages(node)
    if node.role == "frontend":
        version = packages.get("opennebula")
        if version is None:
            raise PreconditionFailed(f"{node}: OpenNebula (package opennebula) is not installed")
    else:
        version = packages.get("opennebula-node-kvm") or packages.get("opennebula-node-lxc")
        if version is None:
            raise PreconditionFailed(
                f"{node}: no opennebula-node-kvm or opennebula-node-lxc package installed"
            )
    return NodeSurvey(node.name, node.role, plat, packages, version)


def zone_from_any(frontends: list[Node], zone_id: int) -> tuple[onezone.Zone, Node] | None:
    """`onezone show` from the first front-end whose oned answers (None: none does)."""
    for node in frontends:
        try:
            return onezone.zone(node, zone_id), node
        except CommandFailed:
            continue
    return None


def free_kib(node: Node, path: str) -> int:
    out = node.run(f"df -Pk {path} | tail -1").stdout.split()
    return int(out[3])


DUMPS_PER_RUN = 4  # pre-upgrade, replication, `onedb upgrade -b`, `onedb fsck -b`


def backup_sizes_kib(node: Node, db: database.Database) -> dict[str, int]:
    """What step 4 copies: the configuration, and the database (a dump is about the size
    of SQLite's file or of MySQL's data directory)."""
    configuration = used_kib(node, "/etc/one") + used_kib(node, "/var/lib/one/remotes/etc")
    data = database.data_path(db, node.address)
    return {"configuration": configuration, "database": used_kib(node, data) if data else 0}


def local_free_kib(path: Path) -> int:
    """Free space where `path` is (or would be) on this machine."""
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    return shutil.disk_usage(here).free // 1024


def used_kib(node: Node, path: str) -> int:
    out = node.run(f"du -sk {path} 2>/dev/null | tail -1", check=False).stdout.split()
    return int(out[0]) if out else 0

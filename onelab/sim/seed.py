"""A fresh healthy cluster: the shared state, and what each node starts with (packages,
units; its files: nodefiles.py)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from . import catalogue, nodestate, state
from .spec import ClusterSpec, NodeSpec

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

SEED_INDEX = 42


def leader_of(spec: ClusterSpec) -> NodeSpec:
    return spec.frontends[0]


def initial_packages(spec: ClusterSpec, node: NodeSpec) -> nodestate.Packages:
    rel = spec.release
    names = (
        [p for p in catalogue.frontend_packages(rel) if p != "opennebula-migration-community"]
        if node.frontend
        else catalogue.node_packages(node.hypervisor or "kvm")
    )
    pkgs = {n: {"version": rel, "status": "ii"} for n in names}
    if node.frontend:
        pkgs["nginx"] = {"version": catalogue.NGINX_VERSION, "status": "ii"}
    if not node.frontend and (node.hypervisor or "kvm") == "kvm":
        lib = catalogue.libvirt_package(node.os)
        pkgs[lib] = {"version": catalogue.LIBVIRT_VERSION, "status": "ii"}
    return pkgs


def initial_units(spec: ClusterSpec, node: NodeSpec) -> nodestate.Units:
    pkgs = initial_packages(spec, node)
    is_leader = node.frontend and node.name == leader_of(spec).name
    units: nodestate.Units = {}
    for unit in nodestate.existing_units(pkgs):
        active = True
        if unit.endswith(".service") and unit.replace(".service", ".timer") in [
            u for u in nodestate.existing_units(pkgs)
        ]:
            active = False  # oneshot services behind a timer
        if unit in catalogue.leader_only_units() and not is_leader:
            active = False
        units[unit] = {"state": "active" if active else "inactive", "enabled": True, "since": 0.0}
    return units


def _servers(spec: ClusterSpec) -> list[dict[str, Any]]:
    """The zone's servers: none for a single non-HA front-end."""
    fes = spec.frontends
    ha = not (len(fes) == 1 and fes[0].server_id < 0)
    if not ha:
        return []
    return [
        {"id": i, "name": n.name, "endpoint": f"http://{n.address}:2633/RPC2"}
        for i, n in enumerate(fes)
    ]


def _hosts(spec: ClusterSpec) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": h.name,
            "status": "enabled",
            "since": 0.0,
            "hypervisor": h.hypervisor or "kvm",
            "version": spec.release,
        }
        for i, h in enumerate(spec.hypervisors)
    ]


def _vms(spec: ClusterSpec, hosts: list[dict[str, Any]], now: int) -> list[dict[str, Any]]:
    """RUNNING VMs spread over the hosts, started a day ago a minute apart."""
    vms = []
    if hosts:
        for i in range(spec.vms):
            host = hosts[i % len(hosts)]
            vms.append(
                {
                    "id": i,
                    "name": f"vm-{i}",
                    "host_id": host["id"],
                    "host": host["name"],
                    "state": 3,
                    "lcm": 3,
                    "stime": now - 86400 + i * 60,
                }
            )
    return vms


def _db(spec: ClusterSpec, lineage: str) -> dict[str, Any]:
    servers = _servers(spec)
    now = int(time.time())
    hosts = _hosts(spec)
    vms = _vms(spec, hosts, now)
    sch = catalogue.schema(spec.release)
    return {
        "schema": {"shared": sch, "local": sch},
        "comment": f"OpenNebula {spec.release} daemon bootstrap",
        "lineage": lineage,
        "index": SEED_INDEX,
        "data": {
            "zone": {
                "id": 0,
                "name": spec.zone_name,
                "state": 0,
                "endpoint": f"http://{spec.vip}:2633/RPC2",
            },
            "servers": servers,
            "hosts": hosts,
            "vms": vms,
        },
    }


def seed_cluster(shared: Path, spec: ClusterSpec) -> None:
    """Write a fresh, healthy cluster state into `shared` (DIR/shared)."""
    catalogue.resolve_release(spec.release)
    lineage = uuid.uuid4().hex[:16]
    db = _db(spec, lineage)
    data: dict[str, Any] = {
        "nodes": {n.name: n.to_json() for n in spec.nodes},
        "order": [n.name for n in spec.nodes],
        "vip": spec.vip,
        "servers": db["data"]["servers"],
        "dbs": {n.name: _db_copy(db) for n in spec.frontends},
        "oned": {n.name: {"server_id": n.server_id, "started": 0.0} for n in spec.frontends},
        "raft": {"leader": leader_of(spec).name if spec.frontends else None, "term": 1},
        "probe": {
            n.name: nodestate.probe(initial_packages(spec, n), initial_units(spec, n))
            for n in spec.nodes
        },
        "holds": {},
        "down": [],
    }
    if not db["data"]["servers"]:
        data["raft"]["term"] = 0
    state.init_shared(shared, data, {"faults": {}, "latencies": {}})


def _db_copy(db: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(db)

"""The zone as the real CLI shows it: its servers and their Raft states, the leader, and
the zone, hosts and VMs for `status`."""

from __future__ import annotations

import json
from typing import Any

from ..errors import LabError
from ..sim.spec import ClusterSpec
from .shell import Runner, sh


def show_zone(lab: Runner, node: str) -> dict[str, Any]:
    return dict(json.loads(sh(lab, node, "onezone show 0 -j"))["ZONE"])


def servers(zone: dict[str, Any]) -> list[dict[str, Any]]:
    pool = zone.get("SERVER_POOL") or {}
    found = pool.get("SERVER", [])
    return [found] if isinstance(found, dict) else list(found)


def server_states(lab: Runner, node: str) -> dict[str, str]:
    return {s["NAME"]: s.get("STATE", "") for s in servers(show_zone(lab, node))}


def is_state(lab: Runner, asked: str, server: str, state: str) -> bool:
    return server_states(lab, asked).get(server) == state


def leader_of(lab: Runner, spec: ClusterSpec) -> str | None:
    for fe in spec.frontends:
        try:
            for s in servers(show_zone(lab, fe.name)):
                if s.get("STATE") == "3":
                    return str(s["NAME"])
            if fe.server_id < 0:
                return fe.name
        except LabError:
            continue
    return None


def status(lab: Runner, spec: ClusterSpec) -> dict[str, Any]:
    """The zone, hosts and VMs as the real CLI shows them (for `status`)."""
    leader = leader_of(lab, spec)
    if leader is None:
        return {"leader": None}
    zone = show_zone(lab, leader)
    hosts = json.loads(sh(lab, leader, "onehost list -j")).get("HOST_POOL") or {}
    vms = json.loads(sh(lab, leader, "onevm list -j")).get("VM_POOL") or {}
    host_list = hosts.get("HOST", [])
    vm_list = vms.get("VM", [])
    return {
        "leader": leader,
        "servers": {
            s["NAME"]: {k: s.get(k) for k in ("STATE", "TERM", "INDEX", "COMMIT")}
            for s in servers(zone)
        },
        "hosts": {h["NAME"]: h["STATE"] for h in as_list(host_list)},
        "vms": {v["ID"]: [v["STATE"], v["LCM_STATE"]] for v in as_list(vm_list)},
        "versions": {
            fe.name: sh(lab, fe.name, "onedb version 2>&1 || true").strip() for fe in spec.frontends
        },
    }


def as_list(found: Any) -> list[Any]:
    """The CLI's JSON: one element is a dict, none is {} (reference §4.6)."""
    if not found:
        return []
    return [found] if isinstance(found, dict) else list(found)

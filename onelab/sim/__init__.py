"""The simulated OpenNebula cluster (stdlib only, relative imports only).

The lab copies this package into every node at /usr/lib/one-lab/sim/ and runs it
with the node's system interpreter. See ../LAYOUT.md for the seam.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

    from .catalogue import next_series, resolve_release
    from .faults import REAL_TIER, add_fault, clear_faults, set_latencies
    from .interventions import (
        add_network,
        add_vm,
        busy_zone,
        clear_missing_drivers,
        force_election,
        fsck_errors,
        hold_vm,
        missing_driver,
        set_monitoring_interval,
        set_node_up,
        stall_follower,
        withhold_releases,
    )
    from .main import main
    from .nodefiles import seed_node
    from .report import status
    from .seed import seed_cluster
    from .spec import ClusterSpec, NodeSpec

# Imported on first use: every simulated command on a node imports this package,
# and the host-side API (seed, report, their imports) would add ~30 ms to each.
_LAZY = {
    "next_series": "catalogue",
    "resolve_release": "catalogue",
    "REAL_TIER": "faults",
    "add_fault": "faults",
    "add_network": "interventions",
    "add_vm": "interventions",
    "busy_zone": "interventions",
    "stall_follower": "interventions",
    "clear_faults": "faults",
    "clear_missing_drivers": "interventions",
    "force_election": "interventions",
    "fsck_errors": "interventions",
    "hold_vm": "interventions",
    "missing_driver": "interventions",
    "set_latencies": "faults",
    "set_monitoring_interval": "interventions",
    "withhold_releases": "interventions",
    "set_node_up": "interventions",
    "main": "main",
    "status": "report",
    "seed_cluster": "seed",
    "seed_node": "nodefiles",
    "ClusterSpec": "spec",
    "NodeSpec": "spec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "REAL_TIER",
    "ClusterSpec",
    "NodeSpec",
    "add_fault",
    "add_network",
    "add_vm",
    "busy_zone",
    "clear_faults",
    "clear_missing_drivers",
    "force_election",
    "fsck_errors",
    "hold_vm",
    "main",
    "missing_driver",
    "next_series",
    "resolve_release",
    "seed_cluster",
    "seed_node",
    "set_latencies",
    "set_monitoring_interval",
    "set_node_up",
    "stall_follower",
    "status",
    "withhold_releases",
]

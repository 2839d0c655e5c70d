"""The simulated OpenNebula cluster (stdlib only, relative imports only).

The lab copies this package into every node at /usr/lib/one-lab/sim/ and runs it
with the node's system interpreter. See ../LAYOUT.md for the seam.
"""

from .catalogue import next_series, resolve_release
from .faults import (
    add_fault,
    clear_faults,
    force_election,
    hold_vm,
    set_latencies,
    set_node_up,
)
from .main import main
from .report import status
from .seed import seed_cluster, seed_node
from .spec import ClusterSpec, NodeSpec

__all__ = [
    "ClusterSpec",
    "NodeSpec",
    "add_fault",
    "clear_faults",
    "force_election",
    "hold_vm",
    "main",
    "next_series",
    "resolve_release",
    "seed_cluster",
    "seed_node",
    "set_latencies",
    "set_node_up",
    "status",
]

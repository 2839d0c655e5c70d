"""DIR/inventory.yml: the native inventory the runbook reads, and DIR/known_hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from .sim import ClusterSpec

INVENTORY = "inventory.yml"
KNOWN_HOSTS = "known_hosts"
IDENTITY = "id_ed25519"


def inventory(spec: ClusterSpec, cluster: str, target: str, port: int) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "zone": 0,
        "target": target,
        "vip": spec.vip,
        "ssh": {
            "user": "root",
            "identity_file": IDENTITY,
            "known_hosts": KNOWN_HOSTS,
            "port": port,
        },
        "frontends": [{"name": n.name, "address": n.address} for n in spec.frontends],
        "hypervisors": [
            {"name": n.name, "address": n.address, "hypervisor": n.hypervisor or "kvm"}
            for n in spec.hypervisors
        ],
    }


def write_inventory(lab_dir: Path, data: dict[str, Any]) -> Path:
    path = lab_dir / INVENTORY
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


def known_hosts_text(addresses: dict[str, str], host_keys: dict[str, str], port: int) -> str:
    """'[addr]:port keytype base64' per node, the only keys the lab's clients trust."""
    return "".join(f"[{addr}]:{port} {host_keys[name]}\n" for name, addr in addresses.items())

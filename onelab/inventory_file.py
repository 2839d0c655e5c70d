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


SUDO_PASSWORD_ENV = "ONEUPGRADE_SUDO_PASSWORD"  # noqa: S105 (a variable name)


def inventory(
    spec: ClusterSpec,
    cluster: str,
    target: str,
    port: int,
    *,
    login_user: str | None = None,
    sudo_password: bool = False,
    ssh_config: Path | None = None,
    vip: str | None = None,
) -> dict[str, Any]:
    """The native inventory. With `login_user`: that user and `become: sudo` (the password
    from $ONEUPGRADE_SUDO_PASSWORD when sudo asks for one). With `ssh_config` (a lab behind
    a jump node): each node's address is its Host alias there, which names the jump host.
    `vip`: the zone's floating address (none on the real tier, whose monitoring agents
    reach the leader by the address it connected from)."""

    def address(node: Any) -> str:
        return str(node.name) if ssh_config is not None else str(node.address)

    data: dict[str, Any] = {"cluster": cluster, "zone": 0, "target": target}
    if vip is not None:
        data["vip"] = vip
    data["ssh"] = _ssh(port, login_user, sudo_password, ssh_config)
    data["frontends"] = [{"name": n.name, "address": address(n)} for n in spec.frontends]
    data["hypervisors"] = [
        {"name": n.name, "address": address(n), "hypervisor": n.hypervisor or "kvm"}
        for n in spec.hypervisors
    ]
    return data


def _ssh(
    port: int, login_user: str | None, sudo_password: bool, ssh_config: Path | None
) -> dict[str, Any]:
    """The inventory's `ssh` section."""
    ssh: dict[str, Any] = {
        "user": login_user or "root",
        "identity_file": IDENTITY,
        "known_hosts": KNOWN_HOSTS,
    }
    if ssh_config is not None:
        ssh["config"] = ssh_config.name  # HostName, Port and ProxyJump come from it
    else:
        ssh["port"] = port
    if login_user is not None:
        ssh["become"] = "sudo"
        if sudo_password:
            ssh["become_password_env"] = SUDO_PASSWORD_ENV
    return ssh


def write_inventory(lab_dir: Path, data: dict[str, Any]) -> Path:
    path = lab_dir / INVENTORY
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


def known_hosts_text(addresses: dict[str, str], host_keys: dict[str, str], port: int) -> str:
    """'[addr]:port keytype base64' per node, the only keys the lab's clients trust."""
    return "".join(f"[{addr}]:{port} {host_keys[name]}\n" for name, addr in addresses.items())

"""The lab's description: its directory's files and what lab.json says of its nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import jump, nodes, sim
from .errors import LabError
from .inventory_file import IDENTITY, INVENTORY, KNOWN_HOSTS


class LabDescription:
    """A lab's directory and its lab.json, read as properties."""

    def __init__(self, lab_dir: Path, info: dict[str, Any]) -> None:
        self.dir = lab_dir.resolve()
        self.info = info

    @property
    def inventory_path(self) -> Path:
        return self.dir / INVENTORY

    @property
    def known_hosts(self) -> Path:
        return self.dir / KNOWN_HOSTS

    @property
    def identity(self) -> Path:
        return self.dir / IDENTITY

    @property
    def shared(self) -> Path:
        return self.dir / "shared"

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def real(self) -> bool:
        """Whether the nodes run real OpenNebula (the real tier) rather than the simulation."""
        return self.info.get("opennebula") == "real"

    @property
    def release(self) -> str:
        return str(self.info["release"])

    @property
    def spec(self) -> sim.ClusterSpec:
        return sim.ClusterSpec(
            nodes=self.specs,
            release=self.release,
            vip=str(self.info["vip"]),
            vms=int(self.info["vms"]),
        )

    @property
    def specs(self) -> list[sim.NodeSpec]:
        return [sim.NodeSpec.from_json(n) for n in self.info["nodes"]]

    @property
    def nodes(self) -> dict[str, str]:
        """name -> address of every node."""
        return {str(n["name"]): str(n["address"]) for n in self.info["nodes"]}

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    def upper(self, name: str) -> Path:
        return nodes.node_dir(self.dir, name) / "upper"

    @property
    def jump(self) -> dict[str, str] | None:
        """{"name", "address"} of the jump node of a lab built with jump=True."""
        found = self.info.get("jump")
        return dict(found) if found else None

    @property
    def ssh_config(self) -> Path:
        return self.dir / jump.SSH_CONFIG

    def address(self, name: str) -> str:
        if self.jump and name == self.jump["name"]:
            return self.jump["address"]
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"no node {name!r} in this lab") from None

"""The shape of a simulated cluster: nodes and the cluster they form."""

from __future__ import annotations

import dataclasses

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    name: str
    address: str
    role: str  # "frontend" | "hypervisor"
    os: str  # "debian12" | "debian11" | "ubuntu24.04" | "alma9"
    server_id: int = -1
    hypervisor: str | None = None  # "kvm" | "lxc" | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeSpec:
        return cls(
            name=str(data["name"]),
            address=str(data["address"]),
            role=str(data["role"]),
            os=str(data["os"]),
            server_id=int(data.get("server_id", -1)),
            hypervisor=data.get("hypervisor"),
        )

    @property
    def frontend(self) -> bool:
        return self.role == "frontend"


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    nodes: list[NodeSpec]
    release: str
    vip: str
    zone_name: str = "OpenNebula"
    vms: int = 3

    @property
    def frontends(self) -> list[NodeSpec]:
        return [n for n in self.nodes if n.frontend]

    @property
    def hypervisors(self) -> list[NodeSpec]:
        return [n for n in self.nodes if not n.frontend]

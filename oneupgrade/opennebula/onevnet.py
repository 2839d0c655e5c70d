"""The virtual networks as `onevnet list -j` reports them (their drivers, for the known issues)."""

from __future__ import annotations

from dataclasses import dataclass

from oneupgrade.opennebula.cli import as_list, read_json
from oneupgrade.transport.node import Node


@dataclass(frozen=True)
class OneVnet:
    id: int
    name: str
    vn_mad: str


def vnets(node: Node) -> list[OneVnet]:
    pool = read_json(node, "onevnet list -j").get("VNET_POOL") or {}
    return [
        OneVnet(int(n["ID"]), n.get("NAME", ""), n.get("VN_MAD", ""))
        for n in as_list(pool.get("VNET"))
    ]

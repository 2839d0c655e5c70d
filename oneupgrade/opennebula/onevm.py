"""The VMs as `onevm list -j` reports them, and the transient states the upgrade waits out."""

from __future__ import annotations

from dataclasses import dataclass

from oneupgrade.opennebula.cli import as_list, read_json
from oneupgrade.transport.node import Node

# The transient states the upgrade guide names ("prolog, migrate, epilog, save"):
# LCM states whose short name is prol, migr, epil or save (reference §4.2).
TRANSIENT_LCM_STATES = {
    1: "PROLOG",
    4: "MIGRATE",
    5: "SAVE_STOP",
    6: "SAVE_SUSPEND",
    7: "SAVE_MIGRATE",
    8: "PROLOG_MIGRATE",
    9: "PROLOG_RESUME",
    10: "EPILOG_STOP",
    11: "EPILOG",
    30: "EPILOG_UNDEPLOY",
    31: "PROLOG_UNDEPLOY",
    43: "PROLOG_MIGRATE_POWEROFF",
    45: "PROLOG_MIGRATE_SUSPEND",
    60: "PROLOG_MIGRATE_UNKNOWN",
}
VM_ACTIVE = 3


@dataclass(frozen=True)
class OneVm:
    id: int
    name: str
    state: int
    lcm_state: int

    @property
    def transient_state(self) -> str | None:
        if self.state == VM_ACTIVE and self.lcm_state in TRANSIENT_LCM_STATES:
            return TRANSIENT_LCM_STATES[self.lcm_state]
        return None


def vms(node: Node) -> list[OneVm]:
    pool = read_json(node, "onevm list -j").get("VM_POOL") or {}
    return [
        OneVm(
            int(v["ID"]), v.get("NAME", ""), int(v.get("STATE", "0")), int(v.get("LCM_STATE", "0"))
        )
        for v in as_list(pool.get("VM"))
    ]

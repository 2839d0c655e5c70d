"""Rollback step 7: the hypervisors back to the previous version, their hosts as before.

Each hypervisor whose node package the upgrade moved gets the exact version it had
(rollback_packages.py), libvirt restarted on KVM as the upgrade's step 9 does; the
hosts step 2 of the upgrade set OFFLINE leave OFFLINE, their drivers go back with
`onehost sync --force`, and the hosts enabled before the upgrade are enabled again.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import onehost, system
from oneupgrade.opennebula.hypervisors import LIBVIRT_UNITS
from oneupgrade.opennebula.rollback import Upgrade
from oneupgrade.opennebula.rollback_packages import reinstall
from oneupgrade.transport.node import Node


def restore_hypervisor(node: Node, upgrade: Upgrade) -> list[str]:
    """The node package back to its version before the upgrade, libvirt restarted on KVM."""
    done = reinstall(node, upgrade)
    units = system.existing_units(node, LIBVIRT_UNITS)[:1]
    if done and units and "opennebula-node-kvm" in upgrade.packages_before(node.name, {}):
        node.run(f"systemctl restart {units[0]}", mutating=True, timeout=300)
    return done


def hosts_as_before(
    leader: Node, upgrade: Upgrade, pool: list[onehost.OneHost], restored: Collection[str]
) -> None:
    """The hosts step 2 of the upgrade set OFFLINE leave OFFLINE (monitored again), the
    drivers of the `restored` hypervisors go back, and the hosts enabled before the
    upgrade are enabled again."""
    offline = upgrade.fact("hosts_offline_for_upgrade") or {}
    before = upgrade.fact("hosts_enabled_before") or {}
    returning = [h for h in pool if str(h.id) in offline and h.state == onehost.HOST_OFFLINE]
    onehost.set_hosts(leader, "disable", [h.id for h in returning])
    synced = [h.id for h in pool if h.name in restored and h.version.strip()]
    if synced:  # `onehost sync` refuses root; --force: the hosts' drivers are newer
        ids = ",".join(str(i) for i in sorted(synced))
        leader.run(f"onehost sync --force {ids}", user="oneadmin", mutating=True, timeout=1800)
    onehost.set_hosts(
        leader, "enable", [h.id for h in pool if str(h.id) in before and not h.enabled]
    )


def wait_monitored(cluster: Cluster, ids: set[str]) -> dict[str, BaseException]:
    """Each of the hosts `ids` MONITORED within --health-timeout: the others, by name."""
    deadline = time.monotonic() + cluster.health_timeout
    while True:
        waiting = {
            h.name: f"{h.name} is {h.state_name}, not MONITORED"
            for h in onehost.hosts(cluster.leader)
            if str(h.id) in ids and h.state != onehost.HOST_MONITORED
        }
        if not waiting or time.monotonic() >= deadline:
            return {name: AssertionError(why) for name, why in waiting.items()}
        time.sleep(0.5)

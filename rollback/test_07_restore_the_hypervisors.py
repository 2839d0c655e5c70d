"""Rollback step 7. The hypervisors back to the previous version, enabled as before.

Each hypervisor whose node package the upgrade moved gets the exact version it had
from the previous series' repository (libvirt restarted on KVM, as the upgrade's step
9 does); a hypervisor the upgrade never reached is left alone. The zone is enabled
again when it was before the upgrade; the hosts step 2 of the upgrade set OFFLINE
leave OFFLINE (monitored again), their drivers are put back with `onehost sync
--force` (the hosts' drivers are newer than the restored front-end's, which a plain
sync skips), and the hosts enabled before the upgrade are enabled again and must be
MONITORED within --health-timeout.
"""

import time

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed
from oneupgrade.opennebula import cli, rollback, system
from oneupgrade.opennebula.hypervisors import LIBVIRT_UNITS
from oneupgrade.transport.ssh import Node

pytestmark = [pytest.mark.step(7, "Restore the hypervisors"), pytest.mark.rollback]


@pytest.mark.dependency(name="r07-hypervisors", depends=["r06-health"], scope="session")
def test_every_hypervisor_is_back_and_enabled_as_before(cluster: Cluster) -> None:
    upgrade, plan = rollback.context(cluster)
    leader, zone_id = cluster.leader, cluster.inventory.zone
    if upgrade.fact("zone_enabled_before", True) and (
        cluster.dry_run or not cli.zone(leader, zone_id).enabled
    ):
        cli.set_zone(leader, "enable", zone_id)

    def restore(node: Node) -> list[str]:
        done = rollback.reinstall(node, upgrade)
        units = system.existing_units(node, LIBVIRT_UNITS)[:1]
        if done and units and "opennebula-node-kvm" in upgrade.packages_before(node.name, {}):
            node.run(f"systemctl restart {units[0]}", mutating=True, timeout=300)
        return done

    failures: dict[str, BaseException] = {}
    moved = [n for n in cluster.hypervisors if n.name in plan.reinstall]
    try:
        done = cluster.fan_out(moved, restore)
    except NodesFailed as exc:
        done, failures = {n: [] for n in exc.done}, dict(exc.failures)
    for name, what in sorted(done.items()):
        cluster.say(f"{name}: {', '.join(what) or 'already at the previous version'}")
    back = {n.name for n in cluster.hypervisors if n.name not in failures}
    pool = [h for h in cli.hosts(leader) if h.name in back]
    offline = upgrade.fact("hosts_offline_for_upgrade") or {}
    before = upgrade.fact("hosts_enabled_before") or {}
    returning = [h for h in pool if str(h.id) in offline and h.state == cli.HOST_OFFLINE]
    cli.set_hosts(leader, "disable", [h.id for h in returning])
    synced = [h.id for h in pool if h.name in done and h.version.strip()]
    if synced:  # `onehost sync` refuses root; --force: the hosts' drivers are newer
        ids = ",".join(str(i) for i in sorted(synced))
        leader.run(f"onehost sync --force {ids}", user="oneadmin", mutating=True, timeout=1800)
    cli.set_hosts(leader, "enable", [h.id for h in pool if str(h.id) in before and not h.enabled])
    if not cluster.dry_run:
        failures.update(
            _wait_monitored(cluster, {i for i in before if i in {str(h.id) for h in pool}})
        )
    if failures:
        raise NodesFailed(failures, sorted(back - set(failures)))
    if not cluster.dry_run:
        cluster.journal.complete_campaign()


def _wait_monitored(cluster: Cluster, ids: set[str]) -> dict[str, BaseException]:
    deadline = time.monotonic() + cluster.health_timeout
    while True:
        waiting = {
            h.name: f"{h.name} is {h.state_name}, not MONITORED"
            for h in cli.hosts(cluster.leader)
            if str(h.id) in ids and h.state != cli.HOST_MONITORED
        }
        if not waiting or time.monotonic() >= deadline:
            return {name: AssertionError(why) for name, why in waiting.items()}
        time.sleep(0.5)

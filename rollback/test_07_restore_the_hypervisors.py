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

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed
from oneupgrade.opennebula import onehost, onezone, rollback, rollback_hypervisors

pytestmark = [pytest.mark.step(7, "Restore the hypervisors"), pytest.mark.rollback]


@pytest.mark.dependency(name="r07-hypervisors", depends=["r06-health"], scope="session")
def test_every_hypervisor_is_back_and_enabled_as_before(cluster: Cluster) -> None:
    upgrade, plan = rollback.context(cluster)
    leader, zone_id = cluster.leader, cluster.inventory.zone
    if upgrade.fact("zone_enabled_before", True) and (
        cluster.dry_run or not onezone.zone(leader, zone_id).enabled
    ):
        onezone.set_zone(leader, "enable", zone_id)

    failures: dict[str, BaseException] = {}
    moved = [n for n in cluster.hypervisors if n.name in plan.reinstall]
    try:
        done = cluster.fan_out(
            moved, lambda node: rollback_hypervisors.restore_hypervisor(node, upgrade)
        )
    except NodesFailed as exc:
        done, failures = {n: [] for n in exc.done}, dict(exc.failures)
    for name, what in sorted(done.items()):
        cluster.say(f"{name}: {', '.join(what) or 'already at the previous version'}")
    back = {n.name for n in cluster.hypervisors if n.name not in failures}
    pool = [h for h in onehost.hosts(leader) if h.name in back]
    rollback_hypervisors.hosts_as_before(leader, upgrade, pool, done)
    before = upgrade.fact("hosts_enabled_before") or {}
    if not cluster.dry_run:
        ids = {i for i in before if i in {str(h.id) for h in pool}}
        failures.update(rollback_hypervisors.wait_monitored(cluster, ids))
    if failures:
        raise NodesFailed(failures, sorted(back - set(failures)))
    if not cluster.dry_run:
        cluster.journal.complete_campaign()

"""Rollback step 6. Check the zone's health, as the upgrade's step 8 does.

One leader, every other server a follower in sync, within --health-timeout, and
every front-end's OpenNebula packages at their versions before the upgrade.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import onezone, raft, rollback, system

pytestmark = [pytest.mark.step(6, "Check Cluster Health"), pytest.mark.rollback]


@pytest.mark.dependency(name="r06-health", depends=["r05-start"], scope="session")
def test_one_leader_and_every_follower_in_sync_at_the_previous_version(cluster: Cluster) -> None:
    if cluster.dry_run:
        cluster.say("dry run: health is judged after a real start")
        return
    upgrade, _ = rollback.context(cluster)
    zone, problems, _ = raft.wait_healthy(
        lambda: onezone.zone(cluster.leader, cluster.inventory.zone),
        cluster.health_timeout,
        (CommandFailed,),
    )
    assert zone is not None, "the zone is not healthy: " + "; ".join(problems)
    assert not problems, "the zone is not healthy: " + "; ".join(problems)
    by_address = {n.address: n.name for n in cluster.frontends}
    leaders = [by_address.get(s.address, s.name) for s in zone.leaders]
    if leaders and leaders[0] != cluster.leader.name:
        cluster.journal.remember("leader", leaders[0])
    wrong = {}
    for node in cluster.frontends:
        installed = system.installed_packages(node, system.platform(node).family)
        before = upgrade.packages_before(node.name, installed)
        off = {p: installed.get(p) for p, v in before.items() if installed.get(p) != v}
        if off:
            wrong[node.name] = off
    assert not wrong, f"front-ends not at their versions before the upgrade: {wrong}"

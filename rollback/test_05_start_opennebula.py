"""Rollback step 5. Start OpenNebula, the leader first.

The units that ran before the upgrade (the upgrade's record of step 3; else those
this rollback stopped) are started again on each front-end, the leader first, then
the followers, as in the upgrade's step 7.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import rollback, system
from oneupgrade.transport.node import Node

pytestmark = [pytest.mark.step(5, "Start OpenNebula"), pytest.mark.rollback]


@pytest.mark.dependency(name="r05-start", depends=["r04-config"], scope="session")
def test_the_leader_then_the_followers_are_started(cluster: Cluster) -> None:
    upgrade, _ = rollback.context(cluster)

    def start(node: Node) -> None:
        wanted = upgrade.fact(f"units_before/{node}")
        if wanted is None:
            wanted = cluster.journal.fact(f"units_at_rollback/{node}") or []
        active = set() if cluster.dry_run else set(system.active_units(node, "*"))
        missing = [u for u in wanted if u not in active]
        if not missing:
            return
        node.run("systemctl daemon-reload", mutating=True)
        present = missing if cluster.dry_run else system.existing_units(node, missing)
        gone = [u for u in missing if u not in present]
        if gone:
            cluster.say(f"{node}: not installed, not started: {', '.join(gone)}")
        present.sort(key=lambda u: u != "opennebula.service")  # the others need oned
        system.start_units(node, present)

    start(cluster.leader)
    cluster.fan_out(cluster.followers, start)

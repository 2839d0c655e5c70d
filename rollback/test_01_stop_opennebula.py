"""Rollback step 1. Stop OpenNebula on every front-end, the followers first.

The restore page assumes a stopped OpenNebula; in an HA zone every front-end stops
(as in the upgrade's step 3: followers first, the leader last), since all of them get
the same database back. The units found active are recorded; step 5 starts the ones
that ran before the upgrade. With nothing to restore or reinstall on the front-ends,
nothing is stopped.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import rollback, system

pytestmark = [pytest.mark.step(1, "Stop OpenNebula"), pytest.mark.rollback]


@pytest.mark.dependency(name="r01-stop", depends=["r00-loss"], scope="session")
def test_followers_then_the_leader_are_stopped(cluster: Cluster) -> None:
    _, plan = rollback.context(cluster)
    fronts = {n.name for n in cluster.frontends}
    if not fronts & set(plan.restore + plan.reinstall + plan.configure):
        cluster.say("nothing to restore on the front-ends: OpenNebula is left running")
        return
    for node in [*cluster.followers, cluster.leader]:
        units = system.active_units(node)
        cluster.journal.remember_once(f"units_at_rollback/{node}", units)
        if units:
            system.stop_units(node, units)
    if not cluster.dry_run:
        left = {n.name: system.active_units(n) for n in cluster.frontends}
        running = {n: u for n, u in left.items() if u}
        assert not running, f"OpenNebula units still running: {running}"

"""Rollback step 2. Restore the database backup.

Doc: "With OpenNebula <new> still installed, restore the DB backup using `onedb
restore -f`." One database for the zone: the leader's pre-upgrade dump, taken in the
upgrade's step 4, is restored on the leader and copied to every other front-end the
upgrade reached, its sha256 checked there before `onedb restore -f`.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import database, rollback, rollback_database

pytestmark = [pytest.mark.step(2, "Restore the database backup"), pytest.mark.rollback]


@pytest.mark.dependency(name="r02-restore", depends=["r01-stop"], scope="session")
def test_the_leaders_dump_is_restored_on_every_front_end(cluster: Cluster) -> None:
    _, plan = rollback.context(cluster)
    if plan.dump is None:
        cluster.say("the upgrade took no pre-upgrade dump: its database was never upgraded")
        return
    database.guard(cluster)  # its password out of every record before onedb runs
    dump = plan.dump
    source = cluster.nodes[dump.node]
    nodes = [cluster.nodes[n] for n in plan.restore]
    done = cluster.fan_out(
        nodes, lambda node: rollback_database.restore_database(source, node, dump, cluster.journal)
    )
    for name, what in sorted(done.items()):
        cluster.say(f"{name}: {what}")

"""Step 5. Upgrade OpenNebula in the Followers.

Doc: "Upgrade the HA followers as described in steps 4 to 9 of Upgrading Single
Front-end." The same sub-procedure as the leader's (step 4), on every follower at
once (at most --forks at a time). A failure on one follower does not stop the
others; the step fails naming every follower that failed.

Speed: a follower's packages are upgraded and its own database is dumped first, as
on the leader, but its database is neither migrated (`onedb upgrade`) nor checked
(`onedb fsck`): step 6 replaces it with the leader's upgraded and checked one, so
that work would only lengthen the outage. The Sunstone labels file the leader's
`onedb upgrade` reads is not put back on the followers for the same reason. Its
backups were taken during the leader's step 4 (a backup that failed fails that
follower here); with --overlap-followers all this work began then: here each
follower's outcome is waited for (its failure fails the step, naming it).
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import campaign, database, system
from oneupgrade.opennebula import frontend as fe
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(5, "Upgrade OpenNebula in the Followers")


@pytest.mark.dependency(name="05-followers", depends=["04-backup"], scope="session")
def test_every_follower_is_upgraded(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    database.guard(cluster)  # its password out of every record before onedb runs
    vip = campaign.vip(cluster)

    def upgrade(node: Node) -> list[str]:
        started, done = cluster.wait_background(node)  # begun in step 4
        if started and cluster.overlap_followers:
            return [*done, "during step 4 (--overlap-followers)"]
        rest = fe.upgrade_frontend(
            node, cluster.journal, cluster.target, vip, migrate=False, backed_up=started
        )
        return [*(done or []), *rest]

    done = cluster.fan_out(cluster.followers, upgrade)
    for name, what in done.items():
        cluster.say(f"{name}: {'; '.join(what) or 'already at the target'}")


@pytest.mark.dependency(depends=["05-followers"], scope="session")
def test_every_frontend_runs_the_target_release(cluster: Cluster, frontend: Node) -> None:
    if cluster.dry_run:
        return
    plat = system.platform(frontend)
    version = system.installed_packages(frontend, plat.family).get("opennebula")
    assert system.at_target(version, cluster.target), f"{frontend} runs {version}"

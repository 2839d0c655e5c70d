"""Step 7. Start OpenNebula in the Leader and Followers.

Doc: start OpenNebula, OneFlow, OneGate and FireEdge (and Apache/Nginx when
FireEdge runs behind it); the single front-end guide's step 10 adds `systemctl
daemon-reload` first. The units started are exactly those that were active before
step 3, leader first, then the followers; a unit the target release no longer
ships (opennebula-scheduler in 7.0) is left out and said so.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import system

pytestmark = pytest.mark.step(7, "Start OpenNebula in the Leader and Followers")


@pytest.mark.dependency(name="07-start", depends=["06-replicate"], scope="session")
def test_the_leader_then_the_followers_are_started(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    for node in [cluster.leader, *cluster.followers]:
        wanted = cluster.journal.fact(f"units_before/{node}") or []
        active = set(system.active_units(node, "*"))
        missing = [u for u in wanted if u not in active]
        if not missing:
            cluster.say(f"{node}: already running {', '.join(wanted)}")
            continue
        node.run("systemctl daemon-reload", mutating=True)
        present = missing if cluster.dry_run else system.existing_units(node, missing)
        gone = [u for u in missing if u not in present]
        if gone:
            cluster.say(f"{node}: not shipped by {cluster.target}, not started: {', '.join(gone)}")
        # opennebula.service first: the others need oned.
        present.sort(key=lambda u: u != "opennebula.service")
        system.start_units(node, present)
    if not cluster.dry_run:
        cluster.journal.remember("stopped_for_upgrade", False)

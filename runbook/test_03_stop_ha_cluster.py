"""Step 3. Stop the HA Cluster.

Doc: "You need to stop all the nodes in the cluster to upgrade them at the same
time. Start with the followers and leave the leader until the end." If FireEdge
runs behind Apache/Nginx, stop that too. "Make sure that every OpenNebula process
is stopped. The output of `systemctl list-units | grep opennebula` should be empty."

Gap closed: stopping only opennebula, flow, gate and FireEdge leaves hem, guacd,
ssh-agent and the timers running, so the doc's own check would fail (reference
pitfall 16): every active `opennebula*` unit is stopped. The active units are
recorded first; step 7 starts exactly those again.
"""

import time

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import system
from oneupgrade.ssh import Node

pytestmark = pytest.mark.step(3, "Stop the HA Cluster")


@pytest.mark.dependency(name="03-stop", depends=["02-zone"], scope="session")
def test_followers_are_stopped_first_and_the_leader_last(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    for node in [*cluster.followers, cluster.leader]:
        units = system.active_units(node)
        proxies = system.active_proxy_units(node, cluster.inventory.proxy)
        recorded = cluster.journal.remember_once(f"units_before/{node}", units + proxies)
        if not units and not proxies:
            cluster.say(f"{node}: already stopped (was running {', '.join(recorded) or 'nothing'})")
            continue
        if cluster.journal.fact("downtime_start") is None and not cluster.dry_run:
            cluster.journal.remember("downtime_start", time.time())
        system.stop_units(node, units + proxies)
    if not cluster.dry_run:
        cluster.journal.remember("stopped_for_upgrade", True)


@pytest.mark.dependency(depends=["03-stop"], scope="session")
def test_no_opennebula_unit_is_left_running(cluster: Cluster, frontend: Node) -> None:
    if cluster.control_plane_done or cluster.dry_run:
        return
    # The doc's own check, verbatim.
    left = frontend.run("systemctl list-units | grep opennebula", check=False).stdout
    assert not left.strip(), f"{frontend}: OpenNebula units still listed:\n{left}"

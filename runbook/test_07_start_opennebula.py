"""Step 7. Start OpenNebula in the Leader and Followers.

Doc: start OpenNebula, OneFlow, OneGate and FireEdge (and Apache/Nginx when
FireEdge runs behind it); the single front-end guide's step 10 adds `systemctl
daemon-reload` first. The units started are exactly those that were active before
step 3 (what each front-end lacks and has is read on all of them at once, with their
`daemon-reload`), leader first, then the followers (at once, at most --forks); a unit the
target release no longer ships (opennebula-scheduler, and 6.10's Sunstone and noVNC,
in 7.0) is left out and said so, even where its old package stays installed.
"""

import pytest

from oneupgrade import releases
from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import system
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(7, "Start OpenNebula in the Leader and Followers")


@pytest.mark.dependency(name="07-start", depends=["06-replicate"], scope="session")
def test_the_leader_then_the_followers_are_started(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return

    def to_start(node: Node) -> list[str]:
        wanted = cluster.journal.fact(f"units_before/{node}") or []
        # a dry run stopped nothing: plan the start of everything step 3 planned to stop
        active = set() if cluster.dry_run else set(system.active_units(node, "*"))
        missing = [u for u in wanted if u not in active]
        if not missing:
            cluster.say(f"{node}: already running {', '.join(wanted)}")
            return []
        node.run("systemctl daemon-reload", mutating=True)
        shipped = releases.series(cluster.target_release).units
        if cluster.dry_run:
            # nothing was upgraded: the target's unit list says what will exist
            present = [u for u in missing if not u.startswith("opennebula") or u in shipped]
        else:
            # A package the target no longer ships (6.10's opennebula-sunstone) may stay
            # installed at the source release: its units are not started on the target.
            dropped = set(releases.series(cluster.source).units) - set(shipped)
            present = [u for u in system.existing_units(node, missing) if u not in dropped]
        gone = [u for u in missing if u not in present]
        if gone:
            cluster.say(f"{node}: not shipped by {cluster.target}, not started: {', '.join(gone)}")
        # opennebula.service first: the others need oned.
        return sorted(present, key=lambda u: u != "opennebula.service")

    # What each front-end starts, read on all of them at once (nothing starts yet); a
    # follower that cannot be read fails alone, after the others are started.
    units = cluster.outcomes(cluster.frontends, to_start)

    def start(node: Node) -> None:
        todo = units[node.name]
        if isinstance(todo, Exception):
            raise todo
        system.start_units(node, todo)

    start(cluster.leader)
    # Speed: the followers all at once (at most --forks), once the leader runs.
    cluster.fan_out(cluster.followers, start)
    if not cluster.dry_run:
        cluster.journal.remember("stopped_for_upgrade", False)

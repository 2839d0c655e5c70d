"""Step 8. Check Cluster Health.

Doc: "At this point the `onezone show` command should display all the followers
active and in sync with the leader." Judged as: exactly one leader, every other
server a follower, all on the leader's TERM, every follower's COMMIT reaching the
leader's of a moment before (a follower learns it on the next heartbeat; see
opennebula/raft.py), all within --health-timeout, and every front-end at the target release.
Leadership may have moved on restart: the leader is read again from the zone.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import onedlog, onezone, raft, system
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(8, "Check Cluster Health")


@pytest.mark.dependency(name="08-health", depends=["07-start"], scope="session")
def test_one_leader_and_every_follower_in_sync(cluster: Cluster) -> None:
    if cluster.dry_run:
        cluster.say("dry run: health is judged after a real start")
        return
    # (the control-plane downtime ends when the zone is first seen healthy)
    zone, problems, healthy_at = raft.wait_healthy(
        lambda: onezone.zone(cluster.leader, cluster.inventory.zone),
        cluster.health_timeout,
        (CommandFailed,),
    )
    assert zone is not None, "the zone is not healthy: " + "; ".join(problems)
    assert not problems, "the zone is not healthy: " + "; ".join(problems)
    leader = next(iter(zone.leaders), None)
    if leader is not None:
        by_address = {n.address: n for n in cluster.frontends}
        node = by_address.get(leader.address) or cluster.nodes.get(leader.name)
        if node is not None and node is not cluster.leader:
            cluster.say(f"leadership moved from {cluster.leader} to {node}")
            cluster.journal.remember("leader", node.name)
    versions = {}
    for node in cluster.frontends:
        plat = system.platform(node)
        versions[node.name] = system.installed_packages(node, plat.family).get("opennebula")
    behind = {n: v for n, v in versions.items() if not system.at_target(v, cluster.target)}
    assert not behind, f"front-ends not at {cluster.target}: {behind}"
    if not cluster.control_plane_done and cluster.journal.fact("downtime_end") is None:
        cluster.journal.remember("downtime_end", healthy_at)
    cluster.journal.remember("control_plane_done", True)
    cluster.journal.remember("releases_after_frontends", versions)
    cluster.observed.setdefault("releases_after", {}).update(versions)


@pytest.mark.dependency(depends=["08-health"], scope="session")
def test_oned_log_shows_no_error_since_the_start(cluster: Cluster, frontend: Node) -> None:
    # The guide's "Testing": oned.log free of errors, every configured driver loaded.
    key = f"oned_log_clean/{frontend}"
    if cluster.dry_run or cluster.journal.fact(key):
        return
    text = frontend.run(f"tail -n {onedlog.TAIL_LINES} {onedlog.ONED_LOG}").stdout
    lines = onedlog.since_last_start(text)
    if not lines:  # oned answers (the health check above), so its start was rotated out
        cluster.say(f"{frontend}: no start of OpenNebula in {onedlog.ONED_LOG}'s tail: not read")
        return
    found = onedlog.problems(lines)
    assert not found, f"{frontend}: {onedlog.ONED_LOG} since the start:\n  " + "\n  ".join(
        found[:20]
    )
    cluster.journal.remember(key, True)

"""Step 8. Check Cluster Health.

Doc: "At this point the `onezone show` command should display all the followers
active and in sync with the leader." Judged as: exactly one leader, every other
server a follower, all on the leader's TERM, every follower's COMMIT reaching the
leader's of a moment before (a follower learns it on the next heartbeat; see
opennebula/raft.py), all within --health-timeout, and every front-end at the target release.
Leadership may have moved on restart: the leader is read again from the zone.
Then, oned.log read first (OpenNebula logs "[VDC][E]: Rule does not exist" for any
group it deletes), the zone must *work*, not only look healthy: it is enabled again
(writes need it; step 2 disabled it) and a write through the leader (a probe group
created and deleted, see opennebula/write_probe.py) commits on every server within
seconds, or the step fails naming each server's position, before step 9 touches a
hypervisor. A zone the operator had disabled before the upgrade stays disabled, and no
probe can write.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import (
    database,
    hypervisor_hosts,
    onedlog,
    onezone,
    raft,
    system,
    write_probe,
)
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


@pytest.mark.dependency(name="08-writes", depends=["08-health"], scope="session")
def test_a_write_through_the_leader_commits_on_every_server(cluster: Cluster) -> None:
    if cluster.journal.fact("write_probe"):
        return  # proven in this campaign: a rerun writes nothing
    if not cluster.journal.fact("zone_enabled_before", True):
        cluster.say("the zone was disabled before the upgrade and stays so: no write probe")
        return
    hypervisor_hosts.enable_the_zone(cluster)
    leader = cluster.leader
    zone_id = cluster.inventory.zone
    sqlite = not any(db.mysql for db in database.guard(cluster).values())
    try:
        probe = write_probe.run(leader, lambda: onezone.zone(leader, zone_id), sqlite=sqlite)
    except write_probe.ProbeFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    if cluster.dry_run:
        cluster.say(f"dry run: probe group {probe.group} created and deleted through {leader}")
        return
    cluster.say(
        f"probe group {probe.group} (id {probe.group_id}) through {leader}: committed on "
        f"every server in {probe.created_in:.1f} s, its delete in {probe.deleted_in:.1f} s"
    )
    timing = {"created_in": round(probe.created_in, 2), "deleted_in": round(probe.deleted_in, 2)}
    cluster.journal.remember("write_probe", {"group": probe.group, **timing})

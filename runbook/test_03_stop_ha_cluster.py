"""Step 3. Stop the HA Cluster.

Doc: "You need to stop all the nodes in the cluster to upgrade them at the same
time. Start with the followers and leave the leader until the end." If FireEdge
runs behind Apache/Nginx, stop that too. "Make sure that every OpenNebula process
is stopped. The output of `systemctl list-units | grep opennebula` should be empty."

Gap closed: stopping only opennebula, flow, gate and FireEdge leaves hem, guacd,
ssh-agent and the timers running, so the doc's own check would fail (reference
pitfall 16): every active `opennebula*` unit is stopped. The active units of every
front-end are read and recorded first; step 7 starts exactly those again. The
followers stop together (at most --forks at a time), the leader once they have.

Speed: before anything is stopped, every node not at the target yet gets its
repository switched and refreshed (at most --forks at a time): a repository problem
shows before the outage, on any node (a hypervisor's refreshed repository must offer
its node package at the target). The front-ends then download their packages
(download-only) before the stop, so steps 4 and 5 only install; the hypervisors'
downloads start then and go on in the background while steps 3 to 8 run (nothing
of the control plane waits for them); step 9 waits for each hypervisor's own
download before installing there, and a download that failed fails that
hypervisor's step 9 work only. A series target installs the repositories' newest
release: read on each front-end after the refresh, it must be one release on all of
them, at the target, with no blocking known issue (a mirror still serving 7.0.0, say),
or the step fails while nothing is stopped.
"""

import fnmatch
import time

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import campaign, prefetch, system
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(3, "Stop the HA Cluster")


@pytest.mark.dependency(name="03-download", depends=["02-zone"], scope="session")
def test_packages_are_downloaded_while_opennebula_still_runs(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("skipped: the control plane is upgraded (step 9 downloads what it installs)")
        return
    if cluster.journal.fact("stopped_for_upgrade") or cluster.journal.fact("downtime_start"):
        cluster.say("skipped: the control plane is already stopped; steps 4, 5, 9 download")
        return
    patterns = cluster.hypervisor_selection
    hypervisors = [
        n
        for n in cluster.hypervisors
        if not patterns or any(fnmatch.fnmatch(n.name, p) for p in patterns)
    ]
    seen, journal, target = cluster.observed.get("survey", {}), cluster.journal, cluster.target
    nodes = [*cluster.frontends, *hypervisors]
    done = cluster.fan_out(
        nodes, lambda node: prefetch.before_the_stop(node, journal, target, seen.get(node.name))
    )
    ready = {name: plan for name, plan in done.items() if isinstance(plan, prefetch.Plan)}
    cluster.background(
        [n for n in hypervisors if n.name in ready],
        lambda node: prefetch.fetch(node, journal, target, ready[node.name]),
    )
    for node in nodes:
        what = done[node.name]
        if isinstance(what, prefetch.Plan):
            what = f"downloading {' '.join(what.packages)} in the background (step 9 waits)"
        cluster.say(f"{node}: {what}")
    _the_repositories_offer_one_release_at_the_target(cluster)


def _the_repositories_offer_one_release_at_the_target(cluster: Cluster) -> None:
    # A series target installs whatever the refreshed repositories offer: read it while
    # OpenNebula still runs (a dry run switched no repository: nothing to read yet).
    if cluster.target.count(".") != 1 or cluster.dry_run:
        return
    seen = cluster.observed.get("survey", {})
    behind = [
        n
        for n in cluster.frontends
        if n.name not in seen or not system.at_target(seen[n.name].release, cluster.target)
    ]
    if not behind:
        return
    offered = cluster.fan_out(
        behind,
        lambda node: system.candidate_version(
            node,
            seen[node.name].platform if node.name in seen else system.platform(node),
            "opennebula",
        ),
    )
    problems = campaign.candidate_problems(cluster, offered)
    if problems:
        for node in behind:  # the next run refreshes the repositories again
            cluster.journal.remember(prefetch.fact(node), None)
    assert not problems, "\n".join(problems)
    release = next(v for v in offered.values() if v)
    cluster.journal.remember("offered_release", release.split("-")[0])  # for the report
    cluster.say(f"the front-ends' repositories offer opennebula {release}")


@pytest.mark.dependency(name="03-stop", depends=["03-download"], scope="session")
def test_followers_are_stopped_first_and_the_leader_last(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    order = [*cluster.followers, cluster.leader]
    proxy = cluster.inventory.proxy
    # Every front-end's active units read at once, before anything stops.
    active = cluster.fan_out(
        order, lambda node: system.active_units(node) + system.active_proxy_units(node, proxy)
    )
    for node in order:
        recorded = cluster.journal.remember_once(f"units_before/{node}", active[node.name])
        if not active[node.name]:
            cluster.say(f"{node}: already stopped (was running {', '.join(recorded) or 'nothing'})")
    running = [node for node in order if active[node.name]]
    if running and cluster.journal.fact("downtime_start") is None and not cluster.dry_run:
        cluster.journal.remember("downtime_start", time.time())
    # The followers all at once (at most --forks), then the leader.
    cluster.fan_out(
        [n for n in running if n is not cluster.leader],
        lambda node: system.stop_units(node, active[node.name]),
    )
    if cluster.leader in running:
        system.stop_units(cluster.leader, active[cluster.leader.name])
    if not cluster.dry_run:
        cluster.journal.remember("stopped_for_upgrade", True)


@pytest.mark.dependency(depends=["03-stop"], scope="session")
def test_no_opennebula_unit_is_left_running(cluster: Cluster, frontend: Node) -> None:
    if cluster.control_plane_done or cluster.dry_run:
        return
    # The doc's own check, verbatim.
    left = frontend.run("systemctl list-units | grep opennebula", check=False).stdout
    assert not left.strip(), f"{frontend}: OpenNebula units still listed:\n{left}"

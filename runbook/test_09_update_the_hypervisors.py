"""Step 9. Update the Hypervisors.

Doc: "upgrade the hypervisors and enable them as described in Steps 11-13" of
Upgrading Single Front-end: upgrade `opennebula-node-<kvm|lxc>` from the target's
repository, restart libvirt on KVM, `onehost sync` as oneadmin, then `onehost
enable` the hosts disabled in step 2.

Order: node package first, drivers after, for every target. 6.10's and 7.0.0's
pages sync first; their successors reversed that, and monitoring copies the remotes
to a host as soon as it is monitored anyway, so "sync first" would only hand new
drivers to an old node. Step 2 kept every host OFFLINE (neither monitored nor
synced); here, per host and only once its node package is at the target, it leaves
OFFLINE (`onehost disable`: monitored again, which copies the drivers), `onehost
sync` then brings the drivers of hosts that still report an older VERSION, and the
hosts enabled before step 2 are enabled again. A host that was OFFLINE before the
upgrade stays so; hosts of a later wave (--hypervisors) stay OFFLINE until theirs.
`onehost sync` runs only when some host reports drivers older than the leader's
remotes, for those hosts only (named by id): a rerun against an upgraded cluster
changes nothing. A host that reports no VERSION at all (an IM driver without the
KVM probes, e.g. dummy) is left to monitoring, which copied the remotes to it.

Gap closed: the HA guide never says when to `onezone enable`; while the zone is
disabled `onehost enable` fails and `onehost sync` silently cannot record the new
driver VERSION on the hosts (reference pitfall 3). The zone is enabled first. The
step then waits until each host enabled again is MONITORED with a monitoring result
newer than its return: `onehost enable` makes a host that was monitored before
MONITORED at once, so the state alone proves nothing about the upgraded node.

Speed: each hypervisor's packages were downloading in the background since step 3;
its work here waits for its own download only, and a download that failed fails
that hypervisor (the others go on).

Without a journal of the hosts' states before the upgrade (a new controller, or a
campaign that began after the control plane was upgraded), each host keeps the state
it is found in, and the report names those that are not enabled.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed
from oneupgrade.opennebula import hypervisor_hosts, onehost, system
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(9, "Update the Hypervisors")


@pytest.mark.dependency(name="09-hypervisors", depends=["08-health", "08-writes"], scope="session")
def test_every_hypervisor_is_upgraded_and_enabled_again(cluster: Cluster) -> None:
    journal = cluster.journal
    wave = hypervisor_hosts.this_wave(cluster)
    # The zone first: while it is disabled the hosts' commands below fail or do nothing.
    hypervisor_hosts.enable_the_zone(cluster)
    failures = hypervisor_hosts.update_the_hypervisors(cluster, wave)
    upgraded = [n for n in wave if n.name not in failures]
    before = hypervisor_hosts.enable_the_hosts(cluster, upgraded)
    if not cluster.dry_run:
        failures.update(hypervisor_hosts.wait_monitored(cluster, upgraded, before))
        journal.remember_all(
            {f"hypervisor_done/{n}": True for n in upgraded if n.name not in failures}
        )
    if failures:
        raise NodesFailed(failures, [n.name for n in upgraded if n.name not in failures])
    left = [n.name for n in cluster.hypervisors if not journal.fact(f"hypervisor_done/{n}")]
    if not cluster.dry_run and not left:
        journal.complete_campaign()
    elif left:
        cluster.say(
            f"campaign not complete: {len(left)} hypervisor(s) left for a later wave "
            f"({', '.join(left)}), kept OFFLINE until then; run again with --hypervisors "
            "naming them"
        )


@pytest.mark.dependency(depends=["09-hypervisors"], scope="session")
def test_the_hypervisor_runs_the_target_in_the_state_it_had(
    cluster: Cluster, hypervisor: Node
) -> None:
    if hypervisor not in hypervisor_hosts.selected(cluster):
        pytest.skip(
            f"not in this wave (--hypervisors {','.join(cluster.hypervisor_selection or [])})"
        )
    if cluster.dry_run:
        return
    seen = hypervisor_hosts.after_upgrade(cluster)
    if hypervisor.name in seen.failures:
        raise seen.failures[hypervisor.name]
    package, version = seen.packages[hypervisor.name]
    assert system.at_target(version, cluster.target), f"{hypervisor}: {package} is {version}"
    host = seen.hosts.get(hypervisor.name)
    assert host is not None, f"{hypervisor} is not an OpenNebula host"
    before = hypervisor_hosts.enabled_before(cluster, list(seen.hosts.values()))
    was_enabled = str(host.id) in before
    if was_enabled:
        assert host.state == onehost.HOST_MONITORED, f"host {host.id} is {host.state_name}"
        return
    assert not host.enabled, (
        f"host {host.id} was not enabled before the upgrade, now {host.state_name}"
    )
    if str(host.id) in (cluster.journal.fact("hosts_offline_for_upgrade") or {}):
        assert host.state == onehost.HOST_DISABLED, (
            f"host {host.id} was DISABLED before the upgrade, now {host.state_name}"
        )

"""Step 2. Set All Hosts to Disable Mode.

Doc: "Set all Hosts to disable mode to stop all monitoring processes" (`onehost
disable <host_id>`), and "If you are upgrading from version 6.2+ use `onezone
disable <zone_id>` to make sure that no operations changing OpenNebula's state are
executed."

Which hosts were enabled is recorded first: step 9 enables those again and only
those (hosts the operator had disabled or set offline stay so). Hosts are disabled
before the zone, because a disabled zone refuses `onehost disable` too.

Gap closed: a disabled host is still monitored, and monitoring copies the
front-end's remotes to every host that is not OFFLINE when it starts (`start_monitor`
in one_im_exec.rb). Once step 7 starts the upgraded front-ends, every DISABLED host
would get the target's drivers before its node package is upgraded, and a host of a
later wave (--hypervisors) would run them for days. So each host is also set OFFLINE
here (neither monitored nor synced) and step 9 gives it its earlier state back only
after its node package is upgraded.
"""

import pytest

from oneupgrade import releases
from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import onehost, onezone

pytestmark = pytest.mark.step(2, "Set All Hosts to Disable Mode")


def _already_done(cluster: Cluster) -> bool:
    if cluster.journal.fact("stopped_for_upgrade") or cluster.control_plane_done:
        cluster.say("already done: the control plane was stopped or upgraded in this campaign")
        return True
    return False


@pytest.mark.dependency(name="02-hosts", depends=["01-vms"], scope="session")
def test_every_host_is_disabled(cluster: Cluster) -> None:
    if _already_done(cluster):
        return
    leader = cluster.leader
    pool = onehost.hosts(leader)
    enabled = cluster.journal.remember_once(
        "hosts_enabled_before", {str(h.id): h.name for h in pool if h.enabled}
    )
    to_disable = [h.id for h in pool if h.enabled]
    onehost.set_hosts(leader, "disable", to_disable)
    if cluster.dry_run:
        return
    still = [h.name for h in onehost.hosts(leader) if h.enabled]
    assert not still, f"hosts still enabled after onehost disable: {still}"
    gone = set(enabled) - {str(h.id) for h in pool}
    assert not gone, f"hosts {sorted(gone)} were enabled before the upgrade and are gone now"


@pytest.mark.dependency(name="02-offline", depends=["02-hosts"], scope="session")
def test_every_host_is_kept_offline_until_its_node_package_is_upgraded(cluster: Cluster) -> None:
    if _already_done(cluster):
        return
    leader = cluster.leader
    pool = onehost.hosts(leader)
    # (hosts the operator had set OFFLINE are not ours to put back: they stay OFFLINE)
    cluster.journal.remember_once(
        "hosts_offline_for_upgrade",
        {str(h.id): h.name for h in pool if h.state != onehost.HOST_OFFLINE},
    )
    onehost.set_hosts(leader, "offline", [h.id for h in pool if h.state != onehost.HOST_OFFLINE])
    if cluster.dry_run:
        return
    still = [
        f"{h.name} ({h.state_name})"
        for h in onehost.hosts(leader)
        if h.state != onehost.HOST_OFFLINE
    ]
    assert not still, f"hosts not OFFLINE after onehost offline: {', '.join(still)}"


@pytest.mark.dependency(name="02-zone", depends=["02-offline"], scope="session")
def test_the_zone_is_disabled(cluster: Cluster) -> None:
    if _already_done(cluster):
        return
    if not releases.zone_can_be_disabled(cluster.source):
        cluster.say(f"not applicable: onezone disable exists from 6.2, this is {cluster.source}")
        return
    leader = cluster.leader
    if onezone.zone(leader, cluster.inventory.zone).enabled:
        onezone.set_zone(leader, "disable", cluster.inventory.zone)
    if not cluster.dry_run:
        assert not onezone.zone(leader, cluster.inventory.zone).enabled, "the zone is still enabled"

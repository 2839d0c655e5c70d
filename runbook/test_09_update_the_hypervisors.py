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

import fnmatch
import time
from dataclasses import dataclass

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed, PreconditionFailed
from oneupgrade.opennebula import cli, system
from oneupgrade.opennebula.frontend import PREFETCHED
from oneupgrade.opennebula.hypervisors import node_package, upgrade_hypervisor
from oneupgrade.transport.ssh import Node

pytestmark = pytest.mark.step(9, "Update the Hypervisors")


def _selected(cluster: Cluster) -> list[Node]:
    patterns = cluster.hypervisor_selection
    if not patterns:
        return cluster.hypervisors
    return [n for n in cluster.hypervisors if any(fnmatch.fnmatch(n.name, p) for p in patterns)]


def _enabled_before(cluster: Cluster, pool: list[cli.OneHost]) -> dict[str, str]:
    """host id -> name of the hosts enabled before step 2. Without step 2's record (it
    never ran in this campaign) the hosts enabled as found now: each keeps its state."""
    recorded: dict[str, str] | None = cluster.journal.fact("hosts_enabled_before")
    if recorded is not None:
        return recorded
    found: dict[str, str] | None = cluster.observed.get("hosts_as_found")
    if found is None:
        found = cluster.observed["hosts_as_found"] = {str(h.id): h.name for h in pool if h.enabled}
        others = [f"{h.name} ({h.state_name})" for h in pool if not h.enabled]
        if others:
            cluster.say(
                "no journal of this campaign records the hosts' states before the upgrade: "
                f"{', '.join(others)} kept as found; enable by hand any that should be"
            )
    return found


def _sync_drivers(cluster: Cluster, hosts: list[cli.OneHost]) -> None:
    """`onehost sync` when one of `hosts` (upgraded, not OFFLINE) reports older drivers."""
    if not hosts:
        return
    if not cluster.dry_run:
        remotes = cli.remotes_version(cluster.leader)
        # A host whose IM driver reports no VERSION (dummy, say) cannot be judged; its
        # monitoring copied the remotes when it started. Syncing it would repeat forever.
        silent = [h.name for h in hosts if not h.version.strip()]
        if silent:
            cluster.say(f"drivers: {', '.join(silent)} report no VERSION, not synced")
        hosts = [h for h in hosts if h.version.strip()]
        if not hosts:
            return
        if not any(cli.drivers_older(h.version, remotes) for h in hosts):
            cluster.say(f"drivers: every upgraded host reports VERSION {remotes} already")
            return
    # `onehost sync` refuses root (pitfall 14); it skips hosts already at the VERSION.
    # Named by id, so that no host whose node package is older is ever synced.
    ids = ",".join(str(h.id) for h in sorted(hosts, key=lambda h: h.id))
    cluster.leader.run(f"onehost sync {ids}", user="oneadmin", mutating=True, timeout=1800)


@pytest.mark.dependency(name="09-hypervisors", depends=["08-health"], scope="session")
def test_every_hypervisor_is_upgraded_and_enabled_again(cluster: Cluster) -> None:
    journal, leader, zone_id = cluster.journal, cluster.leader, cluster.inventory.zone
    wave = [n for n in _selected(cluster) if not journal.fact(f"hypervisor_done/{n}")]
    if wave and not cluster.dry_run:  # each wave of a campaign, in the order it ran
        waves = list(journal.fact("waves") or [])
        waves.append({"run": cluster.run_id, "hypervisors": [n.name for n in wave]})
        journal.remember("waves", waves)
    # (a dry run disabled nothing: plan what the real run will find disabled)
    disabled = cluster.dry_run or not cli.zone(leader, zone_id).enabled
    if journal.fact("zone_enabled_before", True) and disabled:
        cli.set_zone(leader, "enable", zone_id)
    failures: dict[str, BaseException] = {}
    seen = cluster.observed.get("survey", {})  # preflight's look at the nodes in this run
    try:

        def upgrade(node: Node) -> list[str]:
            _wait_for_its_download(cluster, node)
            fresh = journal.fact(PREFETCHED.format(node=node)) == cluster.target
            return upgrade_hypervisor(node, cluster.target, fresh=fresh, seen=seen.get(node.name))

        cluster.fan_out(wave, upgrade)
    except NodesFailed as exc:
        failures.update(exc.failures)
    upgraded = [n for n in wave if n.name not in failures]
    pool = cli.hosts(leader)
    before = _enabled_before(cluster, pool)
    offline_for_upgrade = journal.fact("hosts_offline_for_upgrade") or {}
    names = {n.name for n in upgraded}
    ours = [h for h in pool if h.name in names]
    # (a dry run set nothing OFFLINE: plan from what step 2 recorded)
    back = [
        h
        for h in ours
        if str(h.id) in offline_for_upgrade and (cluster.dry_run or h.state == cli.HOST_OFFLINE)
    ]
    to_enable = [h.id for h in ours if str(h.id) in before and (cluster.dry_run or not h.enabled)]
    if (back or to_enable) and not cluster.dry_run:
        # A monitoring result must be newer than this to count (kept for a rerun's wait).
        now = cli.clock(leader)
        journal.remember_all(
            {f"monitored_after/{i}": journal.fact(f"monitored_after/{i}", now) for i in to_enable}
        )
    cli.set_hosts(leader, "disable", [h.id for h in back])
    _sync_drivers(cluster, [h for h in ours if h in back or h.state != cli.HOST_OFFLINE])
    cli.set_hosts(leader, "enable", to_enable)
    if not cluster.dry_run:
        failures.update(_wait_monitored(cluster, upgraded, before))
    if not cluster.dry_run:
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


def _wait_for_its_download(cluster: Cluster, node: Node) -> None:
    """The node's package download that step 3 started in the background, finished:
    its failure fails this hypervisor's work only."""
    try:
        cluster.wait_background(node)
    except Exception as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PreconditionFailed(
            f"{node}: its package download, started in step 3 while the control plane was "
            f"down, failed: {why}; after fixing the cause --lf upgrades it (the install "
            "then downloads)"
        ) from None


def _wait_monitored(
    cluster: Cluster, nodes: list[Node], before: dict[str, str]
) -> dict[str, BaseException]:
    """Each host enabled again is MONITORED with a monitoring result newer than its enable
    and no error from it. MONITORED alone proves nothing: `onehost enable` puts a host
    that was monitored before back to MONITORED at once (`Host::enable`), before any
    probe of the upgraded node has run."""
    wanted = {n.name for n in nodes}
    deadline = time.monotonic() + cluster.health_timeout
    # A result comes within a monitoring cycle: poll every 0.1 s for the first 2 s, then
    # back off.
    pause, fast_until = 0.1, time.monotonic() + 2.0
    fresh: set[str] = set()  # counted already: not asked again (one `onehost show` each)
    while True:
        pool = [
            h
            for h in cli.hosts(cluster.leader)
            if h.name in wanted and h.name not in fresh and str(h.id) in before
        ]
        after = {h.id: int(cluster.journal.fact(f"monitored_after/{h.id}", 0)) for h in pool}
        seen = cli.host_monitoring(
            cluster.leader, [h.id for h in pool if h.state == cli.HOST_MONITORED]
        )
        problems = {h.name: _not_fresh(h, seen.get(h.id), after[h.id]) for h in pool}
        waiting = {name: why for name, why in problems.items() if why}
        fresh |= set(problems) - set(waiting)
        if not waiting:
            return {}
        if time.monotonic() >= deadline:
            return {name: AssertionError(why) for name, why in waiting.items()}
        time.sleep(pause)
        if time.monotonic() >= fast_until:
            pause = min(pause * 1.5, 2.0)


def _not_fresh(host: cli.OneHost, seen: cli.HostMonitoring | None, after: int) -> str:
    """Why `host` does not count as monitored since `after` yet ("" when it does)."""
    if host.state != cli.HOST_MONITORED or seen is None:
        return f"host {host.id} is {host.state_name}, not MONITORED" + (
            f": {host.error}" if host.error else ""
        )
    if seen.error:
        return f"host {host.id} reports an error from its monitoring: {seen.error}"
    if seen.timestamp <= after:
        return (
            f"host {host.id} is MONITORED but has no monitoring result since it was enabled "
            f"again (last result at {seen.timestamp}, enabled at {after}): its probes have "
            "not reported from the upgraded node (monitord restarts them once the last "
            "result is older than MONITORING_INTERVAL_HOST in monitord.conf: a "
            "--health-timeout below it cannot see them)"
        )
    return ""


@pytest.mark.dependency(depends=["09-hypervisors"], scope="session")
def test_the_hypervisor_runs_the_target_in_the_state_it_had(
    cluster: Cluster, hypervisor: Node
) -> None:
    if hypervisor not in _selected(cluster):
        pytest.skip(
            f"not in this wave (--hypervisors {','.join(cluster.hypervisor_selection or [])})"
        )
    if cluster.dry_run:
        return
    seen = _after_upgrade(cluster)
    if hypervisor.name in seen.failures:
        raise seen.failures[hypervisor.name]
    package, version = seen.packages[hypervisor.name]
    assert system.at_target(version, cluster.target), f"{hypervisor}: {package} is {version}"
    host = seen.hosts.get(hypervisor.name)
    assert host is not None, f"{hypervisor} is not an OpenNebula host"
    was_enabled = str(host.id) in _enabled_before(cluster, list(seen.hosts.values()))
    if was_enabled:
        assert host.state == cli.HOST_MONITORED, f"host {host.id} is {host.state_name}"
        return
    assert not host.enabled, (
        f"host {host.id} was not enabled before the upgrade, now {host.state_name}"
    )
    if str(host.id) in (cluster.journal.fact("hosts_offline_for_upgrade") or {}):
        assert host.state == cli.HOST_DISABLED, (
            f"host {host.id} was DISABLED before the upgrade, now {host.state_name}"
        )


@dataclass
class _AfterUpgrade:
    packages: dict[str, tuple[str, str | None]]
    failures: dict[str, BaseException]
    hosts: dict[str, cli.OneHost]


def _after_upgrade(cluster: Cluster) -> _AfterUpgrade:
    """Every selected hypervisor's node package and the host pool, looked at once for
    all the per-hypervisor checks below (at most --forks at a time): with hundreds of
    hypervisors, a probe and a pool listing per check would run one after another."""
    seen: _AfterUpgrade | None = cluster.observed.get("09-after")
    if seen is None:

        def probe(node: Node) -> tuple[str, str | None] | Exception:
            try:
                return node_package(node, system.platform(node).family)
            except Exception as exc:  # this hypervisor's check fails with it, not the others
                return exc

        found = cluster.fan_out(_selected(cluster), probe)
        packages = {n: r for n, r in found.items() if not isinstance(r, Exception)}
        failures: dict[str, BaseException] = {
            n: r for n, r in found.items() if isinstance(r, Exception)
        }
        hosts = {h.name: h for h in cli.hosts(cluster.leader)}
        seen = cluster.observed["09-after"] = _AfterUpgrade(packages, failures, hosts)
        after = cluster.observed.setdefault("releases_after", {})
        after.update({name: version for name, (_, version) in packages.items()})
    return seen

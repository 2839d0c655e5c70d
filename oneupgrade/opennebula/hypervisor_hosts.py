"""The HA guide's step 9 over the whole cluster: the hypervisors of this run's wave
upgraded, each once its own download is done, then their OpenNebula hosts back: out of
OFFLINE, their drivers synced (`onehost sync`), enabled again (`onehost enable`) and
monitored afresh. runbook/test_09_update_the_hypervisors.py says why in this order.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass

from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed, PreconditionFailed
from oneupgrade.opennebula import onehost, onezone, system
from oneupgrade.opennebula.hypervisors import node_package, upgrade_hypervisor
from oneupgrade.opennebula.package_upgrade import PREFETCHED
from oneupgrade.transport.node import Node


def selected(cluster: Cluster) -> list[Node]:
    """The hypervisors this run works on: all, or those --hypervisors names (patterns)."""
    patterns = cluster.hypervisor_selection
    if not patterns:
        return cluster.hypervisors
    return [n for n in cluster.hypervisors if any(fnmatch.fnmatch(n.name, p) for p in patterns)]


def this_wave(cluster: Cluster) -> list[Node]:
    """The selected hypervisors not done yet; a real run records the wave in the journal."""
    journal = cluster.journal
    wave = [n for n in selected(cluster) if not journal.fact(f"hypervisor_done/{n}")]
    if wave and not cluster.dry_run:  # each wave of a campaign, in the order it ran
        waves = list(journal.fact("waves") or [])
        waves.append({"run": cluster.run_id, "hypervisors": [n.name for n in wave]})
        journal.remember("waves", waves)
    return wave


def enable_the_zone(cluster: Cluster) -> None:
    """`onezone enable` when the zone was enabled before the upgrade and is not now: the
    hosts' commands below need it (the gap the HA guide leaves)."""
    leader, zone_id = cluster.leader, cluster.inventory.zone
    # (a dry run disabled nothing: plan what the real run will find disabled, once: step
    # 8 enables it for its write probe, step 9 then finds it enabled)
    if cluster.dry_run:
        disabled = not cluster.observed.get("zone_enable_planned")
        cluster.observed["zone_enable_planned"] = True
    else:
        disabled = not onezone.zone(leader, zone_id).enabled
    if cluster.journal.fact("zone_enabled_before", True) and disabled:
        onezone.set_zone(leader, "enable", zone_id)


def update_the_hypervisors(cluster: Cluster, wave: list[Node]) -> dict[str, BaseException]:
    """Each hypervisor of the wave upgraded once its own download is done: the failures,
    by node (the others go on)."""
    journal = cluster.journal
    seen = cluster.observed.get("survey", {})  # preflight's look at the nodes in this run

    def upgrade(node: Node) -> list[str]:
        wait_for_its_download(cluster, node)
        fresh = journal.fact(PREFETCHED.format(node=node)) == cluster.target
        return upgrade_hypervisor(node, cluster.target, fresh=fresh, seen=seen.get(node.name))

    try:
        cluster.fan_out(wave, upgrade)
    except NodesFailed as exc:
        return dict(exc.failures)
    return {}


def enable_the_hosts(cluster: Cluster, upgraded: list[Node]) -> dict[str, str]:
    """The upgraded hypervisors' hosts out of OFFLINE (`onehost disable`: monitored
    again), their drivers synced, and those enabled before step 2 enabled again; returns
    the hosts enabled before (host id -> name)."""
    journal, leader = cluster.journal, cluster.leader
    pool = onehost.hosts(leader)
    before = enabled_before(cluster, pool)
    offline_for_upgrade = journal.fact("hosts_offline_for_upgrade") or {}
    names = {n.name for n in upgraded}
    ours = [h for h in pool if h.name in names]
    # (a dry run set nothing OFFLINE: plan from what step 2 recorded)
    back = [
        h
        for h in ours
        if str(h.id) in offline_for_upgrade and (cluster.dry_run or h.state == onehost.HOST_OFFLINE)
    ]
    to_enable = [h.id for h in ours if str(h.id) in before and (cluster.dry_run or not h.enabled)]
    if (back or to_enable) and not cluster.dry_run:
        # A monitoring result must be newer than this to count (kept for a rerun's wait).
        now = onehost.clock(leader)
        journal.remember_all(
            {f"monitored_after/{i}": journal.fact(f"monitored_after/{i}", now) for i in to_enable}
        )
    onehost.set_hosts(leader, "disable", [h.id for h in back])
    sync_drivers(cluster, [h for h in ours if h in back or h.state != onehost.HOST_OFFLINE])
    onehost.set_hosts(leader, "enable", to_enable)
    return before


def enabled_before(cluster: Cluster, pool: list[onehost.OneHost]) -> dict[str, str]:
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


def sync_drivers(cluster: Cluster, hosts: list[onehost.OneHost]) -> None:
    """`onehost sync` when one of `hosts` (upgraded, not OFFLINE) reports older drivers."""
    if not hosts:
        return
    if not cluster.dry_run:
        remotes = onehost.remotes_version(cluster.leader)
        # A host whose IM driver reports no VERSION (dummy, say) cannot be judged; its
        # monitoring copied the remotes when it started. Syncing it would repeat forever.
        silent = [h.name for h in hosts if not h.version.strip()]
        if silent:
            cluster.say(f"drivers: {', '.join(silent)} report no VERSION, not synced")
        hosts = [h for h in hosts if h.version.strip()]
        if not hosts:
            return
        if not any(onehost.drivers_older(h.version, remotes) for h in hosts):
            cluster.say(f"drivers: every upgraded host reports VERSION {remotes} already")
            return
    # `onehost sync` refuses root (pitfall 14); it skips hosts already at the VERSION.
    # Named by id, so that no host whose node package is older is ever synced.
    ids = ",".join(str(h.id) for h in sorted(hosts, key=lambda h: h.id))
    cluster.leader.run(f"onehost sync {ids}", user="oneadmin", mutating=True, timeout=1800)


def wait_for_its_download(cluster: Cluster, node: Node) -> None:
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


def wait_monitored(
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
            for h in onehost.hosts(cluster.leader)
            if h.name in wanted and h.name not in fresh and str(h.id) in before
        ]
        after = {h.id: int(cluster.journal.fact(f"monitored_after/{h.id}", 0)) for h in pool}
        seen = onehost.host_monitoring(
            cluster.leader, [h.id for h in pool if h.state == onehost.HOST_MONITORED]
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


def _not_fresh(host: onehost.OneHost, seen: onehost.HostMonitoring | None, after: int) -> str:
    """Why `host` does not count as monitored since `after` yet ("" when it does)."""
    if host.state != onehost.HOST_MONITORED or seen is None:
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


@dataclass
class AfterUpgrade:
    """What step 9's per-hypervisor checks look at, read once for all of them."""

    packages: dict[str, tuple[str, str | None]]
    failures: dict[str, BaseException]
    hosts: dict[str, onehost.OneHost]


def after_upgrade(cluster: Cluster) -> AfterUpgrade:
    """Every selected hypervisor's node package and the host pool, looked at once for
    all the per-hypervisor checks of step 9 (at most --forks at a time): with hundreds of
    hypervisors, a probe and a pool listing per check would run one after another."""
    seen: AfterUpgrade | None = cluster.observed.get("09-after")
    if seen is None:
        found = cluster.look_once(
            "09-packages", selected(cluster), lambda n: node_package(n, system.platform(n).family)
        )
        packages = {n: r for n, r in found.items() if not isinstance(r, Exception)}
        failures: dict[str, BaseException] = {
            n: r for n, r in found.items() if isinstance(r, Exception)
        }
        hosts = {h.name: h for h in onehost.hosts(cluster.leader)}
        seen = cluster.observed["09-after"] = AfterUpgrade(packages, failures, hosts)
        after = cluster.observed.setdefault("releases_after", {})
        after.update({name: version for name, (_, version) in packages.items()})
    return seen

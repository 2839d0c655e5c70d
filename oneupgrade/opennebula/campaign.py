"""Which upgrade this run is part of, and whether the releases allow it.

A campaign is one upgrade of one cluster from one release to a target. A run
continues the campaign in the journal when it has not completed; otherwise the
observed releases say whether a new one starts or there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import config, platforms, releases, system
from oneupgrade.opennebula.survey import NodeSurvey


def in_progress(cluster: Cluster) -> bool:
    """A campaign to this target changed the cluster and has not completed."""
    c = cluster.journal.campaign
    return bool(c and not c["completed"] and c["target"] == cluster.target and c.get("changed"))


def release_problems(cluster: Cluster, found: Mapping[str, NodeSurvey]) -> list[str]:
    target = cluster.target
    fronts = {n.name: found[n.name].release or "?" for n in cluster.frontends}
    problems = []
    if in_progress(cluster):
        source = cluster.journal.fact("source_release")
        odd = {n: v for n, v in fronts.items() if v != source and not system.at_target(v, target)}
        if odd:
            problems.append(
                f"front-ends {odd} are neither at the campaign's source {source} nor at {target}"
            )
        return problems
    distinct = sorted(set(fronts.values()), key=releases.parse)
    if len(distinct) > 1:
        listing = ", ".join(f"{n} {v}" for n, v in sorted(fronts.items()))
        return [
            f"the front-ends run different releases ({listing}); an HA cluster must run one "
            "release on every front-end before it is upgraded"
        ]
    source = distinct[0]
    wanted = releases.resolve(target)
    if releases.parse(source) < (6, 0):
        problems.append(
            f"upgrading from {source} (older than 6.0) is not covered by the upgrade guide: "
            "contact OpenNebula Systems (Upgrading from Previous Versions)"
        )
    if releases.parse(wanted) < releases.parse(source) and not system.at_target(source, target):
        problems.append(
            f"target {target} is older than the installed {source}: a downgrade is not an "
            "upgrade (see Restoring the Previous Version); give a newer target"
        )
    for node in cluster.hypervisors:
        version = found[node.name].release or "?"
        if releases.parse(version) > releases.parse(wanted):
            problems.append(f"{node}: its node package {version} is newer than the target {target}")
    return problems


def platform_problems(cluster: Cluster, found: Mapping[str, NodeSurvey]) -> list[str]:
    """Each node's OS against the target's Platform Notes (platforms.SUPPORTED)."""
    problems = []
    for name, seen in found.items():
        role = seen.role if seen.role == "frontend" else "kvm"
        if role != "frontend" and "opennebula-node-lxc" in seen.packages:
            role = "lxc"
        plat = seen.platform
        why = platforms.problem(name, role, plat.os_id, plat.version_id, plat.name, cluster.target)
        if why:
            problems.append(why)
    return problems


def work_left(cluster: Cluster, found: Mapping[str, NodeSurvey]) -> bool:
    return not all(system.at_target(s.release, cluster.target) for s in found.values())


def begin(cluster: Cluster, found: Mapping[str, NodeSurvey]) -> None:
    """Continue the campaign in the journal, start a new one, or record there is nothing to do."""
    journal = cluster.journal
    if in_progress(cluster):
        journal.add_run(cluster.run_id, cluster.dry_run)
        return
    current = journal.campaign
    source = found[cluster.frontends[0].name].release or "?"
    if not work_left(cluster, found):
        if current is None or current["target"] != cluster.target:
            journal.start_campaign(cluster.name, source, cluster.target, cluster.run_id)
            journal.remember("source_release", source)
            journal.remember("control_plane_done", True)
            journal.complete_campaign()
        journal.add_run(cluster.run_id, cluster.dry_run)
        return
    journal.start_campaign(cluster.name, source, cluster.target, cluster.run_id)
    journal.add_run(cluster.run_id, cluster.dry_run)
    journal.remember("source_release", source)
    if "discovered_hypervisors" in cluster.observed:
        journal.remember("discovered_hypervisors", cluster.observed["discovered_hypervisors"])
    journal.remember("releases_before", {name: s.release for name, s in found.items()})


def vip(cluster: Cluster) -> str | None:
    """The VIP: the inventory's, else the one in the leader's RAFT_LEADER_HOOK."""
    if cluster.inventory.vip:
        return cluster.inventory.vip
    return config.vip(cluster.leader.read_file(config.ONED_CONF))

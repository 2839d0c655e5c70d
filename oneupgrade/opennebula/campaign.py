"""Which upgrade this run is part of, and whether the releases allow it.

A campaign is one upgrade of one cluster from one release to a target. A run
continues the campaign in the journal when it has not completed; otherwise the
observed releases say whether a new one starts or there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from oneupgrade import releases
from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import config, known_issues, onevnet, platforms, system
from oneupgrade.opennebula.survey import NodeSurvey
from oneupgrade.transport.node import Node


def in_progress(cluster: Cluster) -> bool:
    """A campaign of this run's procedure (to this target, for an upgrade) changed the
    cluster and has not completed."""
    c = cluster.journal.campaign
    if not c or c["completed"] or not c.get("changed"):
        return False
    if c.get("kind", "upgrade") != cluster.procedure:
        return False
    return cluster.procedure != "upgrade" or c["target"] == cluster.target


def rollback_unfinished(cluster: Cluster) -> str | None:
    """The id of a rollback that changed the cluster and has not completed."""
    c = cluster.journal.campaign
    if c and c.get("kind") == "rollback" and c.get("changed") and not c["completed"]:
        return str(c["id"])
    return None


def release_problems(cluster: Cluster, found: Mapping[str, NodeSurvey]) -> list[str]:
    """Why the releases found forbid this run: a rollback not finished, front-ends off
    the campaign's way, or a new upgrade whose source and target the guide does not cover."""
    target = cluster.target
    rollback = rollback_unfinished(cluster)
    if rollback:
        return [
            f"rollback campaign {rollback} has not finished: finish it first with "
            f"pytest rollback/ --inventory {cluster.inventory.path} --lf"
        ]
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
    return _upgrade_path_problems(cluster, distinct[0], found)


def _upgrade_path_problems(
    cluster: Cluster, source: str, found: Mapping[str, NodeSurvey]
) -> list[str]:
    """A new upgrade from `source`: a path the guide covers, a target no older, and no
    hypervisor's node package newer than the target."""
    target = cluster.target
    problems = []
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


def known_issue_findings(cluster: Cluster, target: str) -> tuple[list[str], list[str], list[str]]:
    """The known issues of upgrading to `target`: (blocking, not blocking, names checked).

    Read-only: each entry's probe runs on every front-end, the hosts and networks are
    read from the leader while oned runs.
    """
    seen = cluster.observed.get("survey", {})
    fronts = [seen[n.name].release for n in cluster.frontends if n.name in seen]
    source = str(cluster.journal.fact("source_release") or fronts[0])
    issues = known_issues.applying(source, target)
    probes = {
        issue.name: cluster.fan_out(cluster.frontends, _output_of(issue.probe))
        for issue in issues
        if issue.probe
    }
    running = "zone" in cluster.observed
    networks = onevnet.vnets(cluster.leader) if running else []
    facts = known_issues.Facts(seen, cluster.observed.get("hosts", []), networks, probes)
    blocking: list[str] = []
    notes: list[str] = []
    for issue in issues:
        (blocking if issue.blocking else notes).extend(known_issues.findings(issue, facts))
    return blocking, notes, [i.name for i in issues]


def candidate_problems(cluster: Cluster, candidates: Mapping[str, str | None]) -> list[str]:
    """What the refreshed repositories would install on the front-ends, for a series target.

    A series target installs the repository's newest release, which need not be the
    newest this tool knows (a mirror behind, a release withdrawn): every front-end must
    get the same one, at the target, and none of its known issues may block.
    """
    found = {n: releases.resolve(c.split("-")[0]) if c else None for n, c in candidates.items()}
    missing = sorted(n for n, c in found.items() if c is None)
    if missing:
        return [f"{', '.join(missing)}: the repository offers no opennebula package"]
    behind = {n: c for n, c in found.items() if not system.at_target(c, cluster.target)}
    if behind:
        return [
            f"{n}: the repository's newest opennebula is {c}, not of the target {cluster.target}"
            for n, c in sorted(behind.items())
        ]
    distinct = sorted({c for c in found.values() if c}, key=releases.parse)
    if len(distinct) > 1:
        listing = ", ".join(f"{n} {c}" for n, c in sorted(found.items()))
        return [
            f"the front-ends' repositories offer different releases ({listing}): one HA "
            "zone runs one release; point every front-end at the same repository"
        ]
    if distinct[0] == cluster.target_release:
        return []
    blocking, _, _ = known_issue_findings(cluster, distinct[0])
    return [f"the repository would install {distinct[0]}: {line}" for line in blocking]


def _output_of(command: str) -> Callable[[Node], str]:
    return lambda node: node.run(command).stdout


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
    # exact versions, for a rollback (opennebula/rollback.py)
    journal.remember("packages_before", {name: s.packages for name, s in found.items()})


def vip(cluster: Cluster) -> str | None:
    """The VIP: the inventory's, else the one in the leader's RAFT_LEADER_HOOK."""
    if cluster.inventory.vip:
        return cluster.inventory.vip
    return config.vip(cluster.leader.read_file(config.ONED_CONF))

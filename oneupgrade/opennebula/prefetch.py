"""Packages downloaded on every node before they are installed (from step 3 on).

Not a step of the doc: the doc's steps 4, 5 and 9 switch the repository, refresh
it and upgrade, so the control plane stays down while every front-end downloads
its packages. Here each node that is not at the target yet gets the same
repository switch and refresh before anything stops (`prepare`: a repository
problem shows before the outage), then the download-only form of exactly the
package command the later step runs (`apt-get install --only-upgrade
--download-only` / `dnf upgrade --downloadonly`; `fetch`), so that the later step
only installs from the package cache: the front-ends' before the stop, the
hypervisors' in the background while the control plane is down (nothing waits for
them before step 9). Nothing is installed or stopped.

The later steps stay correct without it (skipped, failed half way, cache cleaned
since): they switch and refresh again unless this run already did both on the
node, and the package manager downloads whatever is not in its cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from oneupgrade import releases
from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import system
from oneupgrade.opennebula.hypervisors import NODE_PACKAGES, raise_missing
from oneupgrade.opennebula.package_upgrade import (
    PACKAGE_TIMEOUT,
    PREFETCHED,
    migrators_to_install,
    packages_to_upgrade,
    pinned,
)
from oneupgrade.opennebula.survey import NodeSurvey
from oneupgrade.transport.node import Node


def fact(node: Node) -> str:
    """Journal key: the target whose packages are in the node's cache, repository fresh."""
    return PREFETCHED.format(node=node)


def packages_for(
    node: Node, plat: system.Platform, installed: dict[str, str], target: str
) -> list[str]:
    """The packages step 4/5 (front-end) or step 9 (hypervisor) will upgrade on `node`."""
    if node.role == "frontend":
        if system.at_target(installed.get("opennebula"), target):
            return []
        return packages_to_upgrade(installed, plat, target)
    package = next((p for p in NODE_PACKAGES if p in installed), None)
    if package is None:
        raise_missing(node)
        return []
    return [] if system.at_target(installed[package], target) else [package]


def download(node: Node, journal: Journal, target: str, seen: NodeSurvey | None = None) -> str:
    """Switch and refresh the repository and download the packages; what was done.

    `seen`: what preflight observed on the node in this run (no need to look again).
    """
    plan = prepare(node, journal, target, seen)
    return fetch(node, journal, target, plan) if isinstance(plan, Plan) else plan


def before_the_stop(
    node: Node, journal: Journal, target: str, seen: NodeSurvey | None = None
) -> Plan | str:
    """Step 3's part before the stop: a front-end's download, a hypervisor's repository
    made ready (its Plan is fetched in the background while the control plane is down)."""
    if node.role == "frontend":
        return download(node, journal, target, seen)
    return prepare(node, journal, target, seen)


@dataclass(frozen=True)
class Plan:
    """What `fetch` downloads on a node whose repository `prepare` made ready."""

    platform: system.Platform
    installed: dict[str, str]
    packages: list[str]


def prepare(
    node: Node, journal: Journal, target: str, seen: NodeSurvey | None = None
) -> Plan | str:
    """Switch and refresh the node's repository: a Plan for `fetch`, or (a string) why
    there is nothing to download. On a hypervisor the refreshed repository must offer
    its node package at the target (read-only: a dry run changed no repository)."""
    if journal.fact(fact(node)) == target:
        return "already downloaded"
    if seen is not None:
        plat, installed = seen.platform, seen.packages
    else:
        plat = system.platform(node)
        installed = system.installed_packages(node, plat.family)
    packages = packages_for(node, plat, installed, target)
    if not packages:
        return "already at the target"
    system.switch_repository(node, plat, releases.series_of(releases.resolve(target)))
    system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
    if node.role == "hypervisor" and not node.dry_run:
        offered = system.candidate_version(node, plat, packages[0])
        if not system.at_target(offered.split("-")[0] if offered else None, target):
            raise PreconditionFailed(
                f"{node}: its refreshed repository offers {packages[0]} "
                f"{offered or '(none)'}, not the target {target}; fix the node's "
                "repository, or leave it for a later wave (--hypervisors)"
            )
    return Plan(plat, installed, packages)


def fetch(node: Node, journal: Journal, target: str, plan: Plan) -> str:
    """Download `plan`'s packages (download-only) on a node `prepare` made ready."""
    plat, packages = plan.platform, list(plan.packages)
    # Refuses here, with OpenNebula still running, when the migrators cannot be had.
    migrators = (
        migrators_to_install(node, plat, plan.installed, target) if node.role == "frontend" else []
    )
    for command in system.transaction_commands(
        plat, pinned(packages, plat, target), pinned(migrators, plat, target), download_only=True
    ):
        node.run(command, mutating=True, timeout=PACKAGE_TIMEOUT)
    packages += migrators
    journal.remember(fact(node), target)  # a dry run's journal is never saved
    return f"downloaded {' '.join(packages)}"

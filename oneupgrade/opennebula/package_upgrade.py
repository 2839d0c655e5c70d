"""Steps 5 and 6 of "Upgrading Single Front-end" on one front-end: the repository of the
target series, then the upgrade of the OpenNebula packages (and the onedb migrators
`onedb upgrade` needs), keeping the modified configuration files."""

from __future__ import annotations

from oneupgrade import releases
from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import system
from oneupgrade.transport.node import Node

# Long-running commands get generous deadlines; a hang still ends.
PACKAGE_TIMEOUT = 1800.0
# Journal fact (opennebula/prefetch.py): the node's repository was switched to the
# target and refreshed, and its packages downloaded, before step 3.
PREFETCHED = "prefetched/{node}"


def packages_to_upgrade(installed: dict[str, str], plat: system.Platform, target: str) -> list[str]:
    """The target's step 6 package list, limited to what is installed and not at target."""
    spec = releases.series(releases.resolve(target))
    wanted = spec.frontend_packages_deb if plat.family == "deb" else spec.frontend_packages_rpm
    wanted = tuple(dict.fromkeys((*wanted, *spec.migration_packages)))
    return [p for p in wanted if p in installed and not system.at_target(installed[p], target)]


def migrators_to_install(
    node: Node, plat: system.Platform, installed: dict[str, str], target: str
) -> list[str]:
    """The migration package to install with the upgrade, when none is installed.

    `onedb upgrade` without the target's migrators fails with the control plane down
    (6.10 Community Edition ships none), so the target repository, already refreshed,
    must offer one; otherwise this refuses, naming the packages to provide.
    """
    names = releases.series(releases.resolve(target)).migration_packages
    if any(name in installed for name in names):
        return []
    for name in names:
        if node.dry_run or system.repository_offers(node, plat, name):
            return [name]
    raise PreconditionFailed(
        f"{node}: the repository in {plat.repo_file} offers no onedb migrators for {target} "
        f"({' or '.join(names)}), and onedb upgrade needs them: add the repository (or the "
        "package) that provides them, then rerun"
    )


def pinned(packages: list[str], plat: system.Platform, target: str) -> list[str]:
    """An exact target release pins the versions the package manager installs."""
    if target.count(".") == 1:
        return packages
    sep = "=" if plat.family == "deb" else "-"
    suffix = "-1" if plat.family == "deb" else ""
    return [f"{p}{sep}{target}{suffix}" for p in packages]


def upgrade_the_repository(
    node: Node, journal: Journal, plat: system.Platform, target: str
) -> list[str]:
    """Step 5: the repository of the target series, switched and refreshed (unless this
    run refreshed it and downloaded the packages before the stop)."""
    if system.switch_repository(node, plat, releases.series_of(releases.resolve(target))):
        system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
        return ["repository switched"]
    if journal.fact(PREFETCHED.format(node=node)) == target:
        return ["repository refreshed and packages downloaded before the stop"]
    system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
    return []


def upgrade_opennebula_packages(
    node: Node,
    plat: system.Platform,
    installed: dict[str, str],
    target: str,
    migrators: list[str],
) -> list[str]:
    """Step 6: upgrade, keeping the modified configuration files, and install the
    migrators `onedb upgrade` needs (in the same transaction where the package manager
    allows it); a real run then checks that opennebula is at the target."""
    packages = packages_to_upgrade(installed, plat, target)
    system.upgrade_and_install(
        node, plat, pinned(packages, plat, target), pinned(migrators, plat, target),
        PACKAGE_TIMEOUT,
    )  # fmt: skip
    if not node.dry_run:
        after = system.installed_packages(node, plat.family).get("opennebula")
        if not system.at_target(after, target):
            raise PreconditionFailed(
                f"{node}: opennebula is {after} after the upgrade, not {target}: "
                f"does the repository in {plat.repo_file} offer {target}?"
            )
    return [f"upgraded {' '.join(packages)}", *(f"installed {name}" for name in migrators)]

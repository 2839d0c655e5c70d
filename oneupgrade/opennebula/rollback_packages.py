"""Rollback step 3 (and 7 for the hypervisors): "uninstall OpenNebula <new>, and install
your previous version again": each node's OpenNebula packages back to the exact
versions the upgrade found, from the previous series' repository."""

from __future__ import annotations

import shlex

from oneupgrade import releases
from oneupgrade.opennebula import package_jobs, system
from oneupgrade.opennebula.package_upgrade import PACKAGE_TIMEOUT
from oneupgrade.opennebula.rollback import Upgrade
from oneupgrade.transport.node import Node


def reinstall(node: Node, upgrade: Upgrade) -> list[str]:
    """The node's OpenNebula packages back to their versions before the upgrade, from the
    source series' repository; packages the upgrade added are removed. Modified
    configuration files are kept (the configuration is copied back afterwards)."""
    plat = system.platform(node)
    settled = package_jobs.settle(node, plat)  # what an interrupted run left, finished
    installed = system.installed_packages(node, plat.family)
    before = upgrade.packages_before(node.name, installed)
    wrong = {p: v for p, v in before.items() if installed.get(p) != v}
    added = sorted(p for p in installed if p.startswith("opennebula") and p not in before)
    if not wrong and not added:
        return settled
    done = settled
    if system.switch_repository(node, plat, releases.series_of(upgrade.source)):
        done.append(f"repository back to {releases.series_of(upgrade.source)}")
    system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
    if added:
        remove = "apt-get remove -y -q" if plat.family == "deb" else "dnf -y remove"
        names = " ".join(shlex.quote(p) for p in added)
        node.run(
            f"{system.APT_ENV} {remove} {names}",
            mutating=True,
            timeout=PACKAGE_TIMEOUT,
            detach=True,
        )
        done.append(f"removed {' '.join(added)}")
    if wrong:
        node.run(
            downgrade_command(plat, wrong), mutating=True, timeout=PACKAGE_TIMEOUT, detach=True
        )
        done.append("reinstalled " + " ".join(f"{p} {v}" for p, v in sorted(wrong.items())))
    return done


def downgrade_command(plat: system.Platform, versions: dict[str, str]) -> str:
    """Exact versions, older ones allowed, modified configuration files kept."""
    if plat.family == "deb":
        names = " ".join(shlex.quote(f"{p}={v}-1") for p, v in sorted(versions.items()))
        return f"{system.APT_ENV} apt-get install --allow-downgrades {system.APT_OPTIONS} {names}"
    names = " ".join(shlex.quote(f"{p}-{v}") for p, v in sorted(versions.items()))
    return f"dnf -y downgrade {names}"

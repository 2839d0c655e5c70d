"""Steps 11-13 of "Upgrading Single Front-end" (the HA guide's step 9): the hypervisors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oneupgrade import releases
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import package_jobs, system
from oneupgrade.opennebula.package_upgrade import PACKAGE_TIMEOUT, pinned
from oneupgrade.transport.node import Node

if TYPE_CHECKING:
    from oneupgrade.opennebula.survey import NodeSurvey

NODE_PACKAGES = ("opennebula-node-kvm", "opennebula-node-lxc")
# libvirt's daemon: monolithic libvirtd, or the modular virtqemud on newer distributions
LIBVIRT_UNITS = ["libvirtd.service", "virtqemud.service"]


def node_package(node: Node, family: str) -> tuple[str, str | None]:
    """The installed opennebula-node-* package and its version."""
    installed = system.installed_packages(node, family)
    for name in NODE_PACKAGES:
        if name in installed:
            return name, installed[name]
    return NODE_PACKAGES[0], None


def upgrade_hypervisor(
    node: Node, target: str, *, fresh: bool = False, seen: NodeSurvey | None = None
) -> list[str]:
    """Switch the repository, upgrade opennebula-node-*, restart libvirt on KVM.

    `fresh`: the repository was already switched to the target and refreshed (the
    packages downloaded before step 3): no refresh unless the switch changes it.
    `seen`: what preflight observed on the node in this run (its packages, not looked
    at again: nothing but this runbook changes them in between, and step 3 only
    downloads).
    """
    plat = system.platform(node)
    settled = package_jobs.settle(node, plat)  # what an interrupted run left, finished
    if seen is not None and not settled:
        package = next((p for p in NODE_PACKAGES if p in seen.packages), NODE_PACKAGES[0])
        version = seen.packages.get(package)
    else:
        package, version = node_package(node, plat.family)
    if version is None:
        raise_missing(node)
    if system.at_target(version, target):
        return []
    done = settled
    switched = system.switch_repository(node, plat, releases.series_of(releases.resolve(target)))
    if switched:
        done.append("repository switched")
    if switched or not fresh:
        system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
    system.upgrade_packages(node, plat, pinned([package], plat, target), PACKAGE_TIMEOUT)
    done.append(f"upgraded {package}")
    if package == "opennebula-node-kvm":
        # "For KVM hypervisor it's also necessary to restart the libvirt service"
        units = system.existing_units(node, LIBVIRT_UNITS)[:1]
        if units:
            node.run(f"systemctl restart {units[0]}", mutating=True, timeout=300)
            done.append(f"restarted {units[0]}")
    return done


def raise_missing(node: Node) -> None:
    raise PreconditionFailed(
        f"{node}: no opennebula-node-kvm or opennebula-node-lxc package is installed"
    )

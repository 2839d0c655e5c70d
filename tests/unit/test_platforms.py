"""The Platform Notes gate: each node's OS against the target series."""

from __future__ import annotations

import pytest

from oneupgrade.opennebula import platforms


@pytest.mark.parametrize(
    ("role", "os_id", "version_id", "target"),
    [
        ("frontend", "debian", "12", "7.2"),
        ("kvm", "almalinux", "9.4", "7.2.0"),
        ("frontend", "ubuntu", "24.04", "7.0"),
        ("kvm", "debian", "11", "7.0"),
        ("lxc", "almalinux", "8.10", "6.10"),
        ("frontend", "debian", "11", "7.4"),  # no Platform Notes known for 7.4: not held
    ],
)
def test_supported_platforms_pass(role: str, os_id: str, version_id: str, target: str) -> None:
    assert platforms.problem("n1", role, os_id, version_id, "", target) == ""


def test_7_2_refuses_debian_11_and_el8_naming_node_os_and_target() -> None:
    why = platforms.problem("hv3", "kvm", "debian", "11", "Debian GNU/Linux 11 (bullseye)", "7.2")
    assert why.startswith(
        "hv3: Debian GNU/Linux 11 (bullseye) is not a platform of OpenNebula 7.2 for KVM nodes "
        "(its Platform Notes: Debian 12, 13)"
    )
    why = platforms.problem("fe1", "frontend", "almalinux", "8.10", "AlmaLinux 8.10", "7.2.0")
    assert "AlmaLinux 8.10 is not a platform of OpenNebula 7.2 for front-ends" in why
    assert "AlmaLinux 9, 10" in why


def test_lxc_nodes_have_no_rhel_and_an_unknown_os_is_refused() -> None:
    assert "for LXC nodes" in platforms.problem("hv1", "lxc", "rhel", "9.4", "RHEL 9.4", "7.0")
    why = platforms.problem("fe1", "frontend", "arch", "", "Arch Linux", "7.0")
    assert "Arch Linux is not a platform of OpenNebula 7.0" in why
    assert "Debian" in why

"""Preflight's one-round-trip look at a node: its OS decides whose package list counts."""

from __future__ import annotations

import pytest

from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import system
from tests.unit.fakes import FakeNode

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
ALMA = (
    'PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\n'
)
DPKG = "opennebula 6.10.5-1 ii \nopennebula-tools 6.10.5-1 ii \nopennebula-flow 6.10.5-1 rc \n"
RPM = "opennebula 7.0.1\nopennebula-common 7.0.1\n"


def node(stdout: str) -> FakeNode:
    return FakeNode(answers={"cat /etc/os-release": (0, stdout, "")})


def test_a_debian_node_reads_dpkg_and_ignores_an_rpm_database() -> None:
    n = node(f"{DEBIAN}--- oneupgrade:deb\n{DPKG}--- oneupgrade:rpm\nopennebula 5.0.0\n")
    plat, packages = system.platform_and_packages(n)
    assert plat == system.Platform("deb", "Debian GNU/Linux 12 (bookworm)", "debian", "12")
    # config-files-only ("rc") packages are not installed
    assert packages == {"opennebula": "6.10.5", "opennebula-tools": "6.10.5"}
    assert len(n.ran) == 1
    assert system.platform(n) is plat  # known for the rest of the run: no second probe
    assert len(n.ran) == 1


def test_an_alma_node_reads_rpm() -> None:
    n = node(f"{ALMA}--- oneupgrade:deb\n--- oneupgrade:rpm\n{RPM}")
    plat, packages = system.platform_and_packages(n)
    assert plat.family == "rpm"
    assert packages == {"opennebula": "7.0.1", "opennebula-common": "7.0.1"}


def test_no_os_release_and_an_unsupported_os_are_refused() -> None:
    with pytest.raises(PreconditionFailed, match="os-release is missing"):
        system.platform_and_packages(node("--- oneupgrade:deb\n--- oneupgrade:rpm\n"))
    with pytest.raises(PreconditionFailed, match="unsupported OS 'Arch Linux'"):
        system.platform_and_packages(
            node('PRETTY_NAME="Arch Linux"\nID=arch\n--- oneupgrade:deb\n--- oneupgrade:rpm\n')
        )


POLICY = """opennebula:
  Installed: 6.10.5-1
  Candidate: 7.0.2-1
  Version table:
     7.0.2-1 500
        500 https://example.invalid/repo/7.0/Debian/12 stable/opennebula amd64 Packages
 *** 6.10.5-1 100
        100 /var/lib/dpkg/status
"""


def test_the_candidate_is_what_apt_would_install() -> None:
    deb = system.Platform("deb", "Debian GNU/Linux 12 (bookworm)", "debian", "12")
    n = FakeNode(answers={"apt-cache policy": (0, POLICY, "")})
    assert system.candidate_version(n, deb, "opennebula") == "7.0.2-1"
    none = "opennebula:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n"
    n = FakeNode(answers={"apt-cache policy": (0, none, "")})
    assert system.candidate_version(n, deb, "opennebula") is None
    n = FakeNode(answers={"apt-cache policy": (0, "", "N: Unable to locate package x\n")})
    assert system.candidate_version(n, deb, "x") is None


def test_the_candidate_is_what_dnf_would_install() -> None:
    alma = system.Platform("rpm", "AlmaLinux 9.4 (Seafoam Ocelot)", "almalinux", "9.4")
    n = FakeNode(answers={"dnf -q repoquery": (0, "7.0.1\n", "")})
    assert system.candidate_version(n, alma, "opennebula") == "7.0.1"
    assert "--latest-limit=1" in n.ran[0]
    n = FakeNode(answers={"dnf -q repoquery": (0, "", "")})
    assert system.candidate_version(n, alma, "opennebula") is None

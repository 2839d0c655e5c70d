"""apt-get/apt-cache/dpkg-query and yum/rpm: repositories, upgrades, the conffile prompt."""

from __future__ import annotations

from onelab.sim import catalogue, seed
from onelab.sim.fakeroot import FE_UPGRADE, MakeLab, ha_spec
from onelab.sim.fakeroot import FakeCluster as FakeLab


def version(lab: FakeLab, node: str, pkg: str) -> str:
    return lab.ok(node, "dpkg-query", "-W", "-f=${Version}", pkg).out


def test_repo_switch_without_update_upgrades_nothing(lab: FakeLab) -> None:
    lab.switch_repo("hv0", "7.0")
    r = lab.ok("hv0", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-kvm")
    assert "opennebula-node-kvm is already the newest version (6.10.5-1)." in r.out
    assert "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded." in r.out
    lab.ok("hv0", "apt-get", "update")
    pol = lab.ok("hv0", "apt-cache", "policy", "opennebula-node-kvm").out
    assert "  Installed: 6.10.5-1\n  Candidate: 7.0.2-1\n" in pol
    r = lab.ok("hv0", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-kvm")
    # opennebula-node-kvm Depends: opennebula-common (= its version): apt moves both
    assert "The following additional packages will be installed:\n  opennebula-common\n" in r.out
    assert (
        "The following packages will be upgraded:\n  opennebula-common opennebula-node-kvm\n"
        in r.out
    )
    assert "2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded." in r.out
    assert r.out.index("Setting up opennebula-common") < r.out.index(
        "Setting up opennebula-node-kvm"
    )
    assert version(lab, "hv0", "opennebula-node-kvm") == "7.0.2-1"
    assert version(lab, "hv0", "opennebula-common") == "7.0.2-1"


def test_only_upgrade_skips_missing_and_unknown_fail(lab: FakeLab) -> None:
    r = lab.ok("hv0", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-lxc")
    assert (
        "Skipping opennebula-node-lxc, it is not installed and only upgrades are requested."
        in r.out
    )
    r = lab.run("hv0", "apt-get", "install", "-y", "no-such-package")
    assert (r.rc, r.err) == (100, "E: Unable to locate package no-such-package\n")
    r = lab.run("hv0", "apt-get", "install", "-y", "opennebula-node-kvm=9.9.9-1")
    assert (r.rc, r.err) == (100, "E: Version '9.9.9-1' for 'opennebula-node-kvm' was not found\n")


def test_exact_release_and_unknown_series(lab: FakeLab) -> None:
    src = lab.root("hv1") / "etc/apt/sources.list.d/opennebula.list"
    src.write_text(src.read_text().replace("/repo/6.10/", "/repo/7.0.1/"))
    lab.ok("hv1", "apt-get", "update")
    lab.ok("hv1", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-kvm")
    assert version(lab, "hv1", "opennebula-node-kvm") == "7.0.1-1"
    src.write_text(src.read_text().replace("/repo/7.0.1/", "/repo/9.9/"))
    r = lab.run("hv1", "apt-get", "update")
    assert r.rc == 100
    assert "does not have a Release file" in r.err


def test_conffile_prompt_fails_without_force_confold(lab: FakeLab) -> None:
    lab.stop_all("fe1")
    lab.switch_repo("fe1", "7.0")
    lab.ok("fe1", "apt-get", "update")
    r = lab.run("fe1", "apt-get", "install", "-y", "--only-upgrade", *FE_UPGRADE)
    assert r.rc == 100
    assert "Configuration file '/etc/one/oned.conf'\n ==> Modified (by you or by a script)" in r.out
    assert "dpkg: error processing package opennebula (--configure):\n" in r.err
    assert " end of file on stdin at conffile prompt\n" in r.err
    status = lab.ok("fe1", "dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", "opennebula")
    assert status.out == "iF |7.0.2-1"
    r = lab.run("fe1", "apt-get", "install", "-y", "--only-upgrade", "opennebula")
    assert r.rc == 100
    assert "dpkg --configure -a" in r.err
    assert lab.run("fe1", "dpkg", "--configure", "-a").rc == 1
    lab.ok("fe1", "dpkg", "--configure", "-a", "--force-confold")
    assert lab.ok("fe1", "dpkg-query", "-W", "-f=${Status}", "opennebula").out == (
        "install ok installed"
    )
    remotes = (lab.root("fe1") / "var/lib/one/remotes/VERSION").read_text()
    assert remotes == "7.0.2\n"
    units = lab.ok("fe1", "systemctl", "list-unit-files", "opennebula*").out
    assert "opennebula-scheduler" not in units
    assert "opennebula-hem.service" in units


def test_download_only_then_install(lab: FakeLab) -> None:
    lab.switch_repo("hv0", "7.0")
    lab.ok("hv0", "apt-get", "update")
    r = lab.ok("hv0", "apt-get", "install", "-y", "-d", "--only-upgrade", "opennebula-node-kvm")
    assert "Download complete and in download only mode" in r.out
    assert version(lab, "hv0", "opennebula-node-kvm") == "6.10.5-1"
    r = lab.ok("hv0", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-kvm")
    assert "Get:" not in r.out
    assert version(lab, "hv0", "opennebula-node-kvm") == "7.0.2-1"


def test_dpkg_query_no_match(lab: FakeLab) -> None:
    r = lab.run("hv0", "dpkg-query", "-W", "opennebula-node-lxc")
    assert (r.rc, r.err) == (1, "dpkg-query: no packages found matching opennebula-node-lxc\n")
    r = lab.ok("hv0", "dpkg-query", "-W", "opennebula-node-*")
    assert r.out == "opennebula-node-kvm\t6.10.5-1\n"


def test_yum_and_rpm(make_lab: MakeLab) -> None:
    lab = make_lab(ha_spec(os_name="alma9"))
    assert not (lab.root("fe0") / "etc/apt/sources.list.d/opennebula.list").exists()
    assert (lab.root("fe0") / "usr/bin/rpm").exists()
    r = lab.ok("hv0", "rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", "opennebula-node-kvm")
    assert r.out == "6.10.5-1.el9\n"
    r = lab.run("hv0", "rpm", "-q", "opennebula-node-lxc")
    assert (r.rc, r.out) == (1, "package opennebula-node-lxc is not installed\n")
    lab.switch_repo("hv0", "7.0")
    r = lab.run("hv0", "yum", "upgrade", "opennebula-node-kvm")
    assert r.rc == 1
    assert "Operation aborted." in r.out
    r = lab.ok("hv0", "yum", "-y", "upgrade", "opennebula-node-kvm")
    # Requires: opennebula-common = its version: dnf upgrades both
    assert "Upgraded:\n  opennebula-common-7.0.2-1.el9.x86_64  opennebula-node-kvm-7.0.2-1" in r.out
    assert lab.ok("hv0", "rpm", "-q", "opennebula-node-kvm").out == (
        "opennebula-node-kvm-7.0.2-1.el9.x86_64\n"
    )
    assert "Nothing to do." in lab.ok("hv0", "dnf", "-y", "upgrade", "opennebula-node-kvm").out
    r = lab.run("hv0", "yum", "-y", "upgrade", "opennebula-node-lxc")
    assert r.rc == 1
    assert "Package opennebula-node-lxc available, but not installed." in r.out
    assert "libvirtd.service" in lab.ok("hv0", "systemctl", "list-units").out
    assert seed.initial_packages(lab.spec, lab.spec.nodes[3])["libvirt"]


def test_a_front_end_upgrade_moves_every_sibling_at_its_exact_version(lab: FakeLab) -> None:
    lab.upgrade_packages("fe1", "7.0")
    out = lab.ok("fe1", "dpkg-query", "-W", "-f=${Package} ${Version}\\n", "opennebula*").out
    versions = dict(line.split() for line in out.splitlines())
    # exact-version Depends: nothing OpenNebula ships for 7.0 is left at 6.10.5
    left = {p: v for p, v in versions.items() if v != "7.0.2-1"}
    assert not [p for p in left if catalogue.package_exists(p, "7.0.2")], left
    for sibling in ("opennebula-common", "opennebula-libs", "opennebula-tools",
                    "opennebula-common-onecfg", "opennebula-guacd"):  # fmt: skip
        assert versions[sibling] == "7.0.2-1", sibling


def test_a_sibling_named_at_another_version_is_a_held_broken_package(lab: FakeLab) -> None:
    lab.switch_repo("hv0", "7.0")
    lab.ok("hv0", "apt-get", "update")
    r = lab.run("hv0", "apt-get", "install", "-y", "opennebula-node-kvm=7.0.2-1",
                "opennebula-common=6.10.5-1")  # fmt: skip
    assert r.rc == 100
    assert r.err.startswith("E: Unable to correct problems, you have held broken packages")
    assert version(lab, "hv0", "opennebula-node-kvm") == "6.10.5-1"

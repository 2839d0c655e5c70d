"""systemctl: globs, list-units, is-active exit codes, missing units, role-aware seeding."""

from __future__ import annotations

from onelab.sim.fakeroot import FakeCluster as FakeLab


def test_leader_runs_flow_gate_hem_followers_do_not(lab: FakeLab) -> None:
    units = ("opennebula-flow", "opennebula-gate", "opennebula-hem", "opennebula-showback.timer")
    r = lab.run("fe0", "systemctl", "is-active", *units)
    assert (r.rc, r.out) == (0, "active\n" * 4)
    r = lab.run("fe1", "systemctl", "is-active", *units)
    assert (r.rc, r.out) == (3, "inactive\n" * 4)
    r = lab.run("fe1", "systemctl", "is-active", "opennebula", "opennebula-scheduler", "nginx")
    assert (r.rc, r.out) == (0, "active\nactive\nactive\n")
    r = lab.run("hv0", "systemctl", "is-active", "libvirtd", "no-such-unit")
    assert (r.rc, r.out) == (3, "active\ninactive\n")


def test_stop_glob_empties_the_grep(lab: FakeLab) -> None:
    lab.ok("fe1", "systemctl", "stop", "opennebula", "opennebula-fireedge")
    listing = lab.ok("fe1", "systemctl", "list-units").out
    assert "opennebula-ssh-agent.service" in listing  # the doc's stop list is not enough
    lab.ok("fe1", "systemctl", "stop", "opennebula*")
    listing = lab.ok("fe1", "systemctl", "list-units").out
    assert [line for line in listing.splitlines() if "opennebula" in line] == []
    assert "nginx.service" in listing
    full = lab.ok("fe1", "systemctl", "list-units", "--all", "--plain", "--no-legend").out
    assert "opennebula.service loaded inactive dead" in " ".join(full.split())
    only = lab.ok("fe1", "systemctl", "list-units", "--type=timer", "--all", "opennebula*").out
    assert "opennebula-showback.timer" in only
    assert ".service" not in only


def test_missing_units(lab: FakeLab) -> None:
    r = lab.run("fe1", "systemctl", "stop", "opennebula-nope")
    assert (r.rc, r.err) == (
        5,
        "Failed to stop opennebula-nope.service: Unit opennebula-nope.service not loaded.\n",
    )
    r = lab.run("fe1", "systemctl", "start", "opennebula-nope.service")
    assert (r.rc, r.err) == (
        5,
        "Failed to start opennebula-nope.service: Unit opennebula-nope.service not found.\n",
    )


def test_start_opennebula_on_leader_starts_hem(lab: FakeLab) -> None:
    lab.ok("fe0", "systemctl", "stop", "opennebula*")
    lab.ok("fe0", "systemctl", "start", "opennebula")
    r = lab.run("fe0", "systemctl", "is-active", "opennebula-hem", "opennebula-ssh-agent")
    assert r.out == "inactive\nactive\n"  # fe1 took over while fe0 was down
    assert lab.ok("fe0", "systemctl", "daemon-reload").out == ""
    assert "Active: active (running)" in lab.ok("fe0", "systemctl", "status", "opennebula").out


def test_type_filter_forms(lab: FakeLab) -> None:
    a = lab.ok("fe0", "systemctl", "list-units", "-t", "timer", "--no-legend").out
    b = lab.ok("fe0", "systemctl", "list-units", "--type=timer", "--no-legend").out
    assert a == b
    assert "opennebula-showback.timer" in a

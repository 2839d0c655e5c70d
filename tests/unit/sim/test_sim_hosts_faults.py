"""onehost/onevm shapes, sync, MONITORED rules; faults, latencies, holds, node up/down."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from onelab import sim
from onelab.sim import disruption, faults, onedconf, pool, session
from onelab.sim.fakeroot import FakeCluster as FakeLab
from onelab.sim.fakeroot import MakeLab, ha_spec


def hosts(lab: FakeLab, on: str = "fe0") -> list[dict[str, Any]]:
    pool = json.loads(lab.ok(on, "onehost", "list", "-j").out)["HOST_POOL"]
    h = pool["HOST"]
    return h if isinstance(h, list) else [h]


def test_single_host_is_a_dict_and_vms_a_list(make_lab: MakeLab) -> None:
    lab = make_lab(ha_spec(hypervisors=1, vms=1))
    pool = json.loads(lab.ok("fe0", "onehost", "list", "-j").out)
    assert isinstance(pool["HOST_POOL"]["HOST"], dict)
    assert pool["HOST_POOL"]["HOST"]["TEMPLATE"]["VERSION"] == "6.10.5"
    vms = json.loads(lab.ok("fe1", "onevm", "list", "-j").out)["VM_POOL"]["VM"]
    assert isinstance(vms, list)
    assert vms[0]["LCM_STATE"] == "3"
    # a lone element is a dict, as on the real tier (610_onevm_list_json.txt)
    assert isinstance(vms[0]["HISTORY_RECORDS"]["HISTORY"], dict)


def test_sync_as_root_refused(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("onelab.sim.tools.onehost.euid", lambda: 0)
    r = lab.run("fe0", "onehost", "sync")
    assert (r.rc, r.err) == (255, "Cannot run 'onehost sync' as root\n")


def test_no_probe_compares_versions_and_drivers_show_on_the_next_cycle(lab: FakeLab) -> None:
    assert {h["STATE"] for h in hosts(lab)} == {"2"}
    assert lab.ok("fe0", "onehost", "sync").out == "No hosts are going to be updated.\n"
    (lab.root("fe0") / "var/lib/one/remotes/VERSION").write_text("7.0.2\n")
    lab.switch_repo("hv0", "7.0")
    lab.ok("hv0", "apt-get", "update")
    lab.ok("hv0", "apt-get", "install", "-y", "--only-upgrade", "opennebula-node-kvm")
    time.sleep(pool.INIT_WINDOW)
    # no monitoring check compares versions: an old or new node package is no error
    assert [(h["STATE"], "ERROR" in h["TEMPLATE"]) for h in hosts(lab)] == [("2", False)] * 2
    lab.ok("fe0", "onezone", "disable", "0")
    out = lab.ok("fe0", "onehost", "sync").out
    assert out.startswith("* Adding hv0 to upgrade\n* Adding hv1 to upgrade\n")
    assert out.endswith("\nAll hosts updated successfully.\n")
    # the zone refused the VERSION update; the probes report it on their next cycle
    assert {h["TEMPLATE"]["VERSION"] for h in hosts(lab)} == {"6.10.5"}
    time.sleep(pool.INIT_WINDOW)
    assert {h["TEMPLATE"]["VERSION"] for h in hosts(lab)} == {"7.0.2"}
    lab.ok("fe0", "onezone", "enable", "0")
    assert lab.ok("fe0", "onehost", "sync").out == "No hosts are going to be updated.\n"
    sim.set_node_up(lab.shared, "hv1", False)
    r = lab.run("fe0", "onehost", "sync", "--force")
    assert r.rc == 255
    assert r.err == "Failed to update the following hosts:\n* hv1\n"
    shown = hosts(lab)[1]
    assert shown["STATE"] == "3"
    assert shown["TEMPLATE"]["ERROR"] == "Error monitoring Host hv1 (1): Could not connect to host"
    sim.set_node_up(lab.shared, "hv1", True)
    lab.ok("fe0", "onehost", "disable", "1")
    before = time.time()
    lab.ok("fe0", "onehost", "enable", "1")
    # Host::enable: MONITORED at once, with no monitoring result since the enable yet
    shown = json.loads(lab.ok("fe0", "onehost", "show", "-j", "1").out)["HOST"]
    assert shown["STATE"] == "2"
    assert int(shown["MONITORING"]["TIMESTAMP"]) < int(before)
    time.sleep(pool.INIT_WINDOW)  # the next cycle: the node answers again
    shown = json.loads(lab.ok("fe0", "onehost", "show", "-j", "1").out)["HOST"]
    assert shown["STATE"] == "2"
    assert "ERROR" not in shown["TEMPLATE"]
    assert int(shown["MONITORING"]["TIMESTAMP"]) >= int(before)
    assert hosts(lab)[1]["MONITORING"] == {}  # the listing leaves it out


def test_an_offline_host_is_neither_monitored_nor_synced_and_comes_back_in_init(
    lab: FakeLab,
) -> None:
    lab.ok("fe0", "onehost", "disable", "0,1")
    lab.ok("fe0", "onehost", "offline", "1")
    shown = hosts(lab)
    assert [h["STATE"] for h in shown] == ["4", "8"]
    assert shown[1]["HOST_SHARE"]["TOTAL_CPU"] == "0"  # Host::offline drops the capacity
    (lab.root("fe0") / "var/lib/one/remotes/VERSION").write_text("7.0.2\n")
    out = lab.ok("fe0", "onehost", "sync").out
    assert out.startswith("* Adding hv0 to upgrade\n[")  # hv1 skipped: OFFLINE
    time.sleep(pool.INIT_WINDOW)
    assert [h["TEMPLATE"]["VERSION"] for h in hosts(lab)] == ["7.0.2", "6.10.5"]
    # leaving OFFLINE restarts its monitoring, which copies the front-end's remotes
    lab.ok("fe0", "onehost", "enable", "1")
    assert hosts(lab)[1]["STATE"] == "0"  # no capacity: INIT, not MONITORED
    time.sleep(pool.INIT_WINDOW)
    assert (hosts(lab)[1]["STATE"], hosts(lab)[1]["TEMPLATE"]["VERSION"]) == ("2", "7.0.2")


def test_pattern_matching() -> None:
    toks = "apt-get -y -o X install --only-upgrade opennebula".split()
    assert faults.matches("apt-get install", toks)
    assert not faults.matches("install apt-get", toks)
    assert faults.matches("onedb backup", ["/usr/bin/onedb", "backup", "-f", "/x"])
    assert faults.is_tool_rule("onedb backup")
    assert not faults.is_tool_rule("rsync -r")


def test_exit_fault_counts_down(lab: FakeLab) -> None:
    sim.add_fault(lab.shared, "fe1", "onezone show", times=2, action="exit", exit_code=7)
    for _ in range(2):
        r = lab.run("fe1", "onezone", "show", "0")
        assert (r.rc, r.out, r.err) == (7, "", "simulated fault: onezone show\n")
    lab.ok("fe1", "onezone", "show", "0")
    sim.add_fault(lab.shared, "fe1", "onezone", times=None, action="exit")
    assert lab.run("fe0", "onezone", "show", "0").rc == 0
    for _ in range(3):
        assert lab.run("fe1", "onezone", "list").rc == 1
    sim.clear_faults(lab.shared, "fe1")
    lab.ok("fe1", "onezone", "list")


def test_drop_runs_the_command_then_drops(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[bool] = []
    monkeypatch.setattr(disruption, "drop_connection", lambda: dropped.append(True))
    sim.add_fault(lab.shared, "fe0", "onezone disable", times=1, action="drop")
    lab.ok("fe0", "onezone", "disable", "0")
    assert dropped == [True]
    assert json.loads(lab.ok("fe0", "onezone", "show", "0", "-j").out)["ZONE"]["STATE"] == "1"


def test_latency(lab: FakeLab) -> None:
    sim.set_latencies(lab.shared, {"onezone show": 0.3, "apt-get download": 0.2})
    t = time.monotonic()
    lab.ok("fe0", "onezone", "show", "0")
    assert time.monotonic() - t >= 0.3
    t = time.monotonic()
    lab.ok("fe0", "onezone", "list")
    assert time.monotonic() - t < 0.25
    lab.switch_repo("hv0", "7.0")
    lab.ok("hv0", "apt-get", "update")
    t = time.monotonic()
    lab.ok("hv0", "apt-get", "install", "-y", "-d", "opennebula-node-kvm")
    assert time.monotonic() - t >= 0.2
    t = time.monotonic()
    lab.ok("hv0", "apt-get", "install", "-y", "opennebula-node-kvm")
    assert time.monotonic() - t < 0.15  # cached


def test_session_applies_non_tool_rules(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESIM_ROOT", str(lab.root("fe0")))
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(list(argv)))
    sim.add_fault(lab.shared, "fe0", "rsync /etc/one", times=1, action="exit", exit_code=23)
    sim.add_fault(lab.shared, "fe0", "onedb backup", times=1, action="exit")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "rsync -r /etc/one root@fe1:/etc")
    assert session.main() == 23
    assert calls == []
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "onedb backup")  # a tool rule: not here
    session.main()
    assert calls == [["bash", "-c", "onedb backup"]]
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "")
    session.main()
    assert calls[-1] == ["bash", "-l"]


def test_hold_vm(lab: FakeLab) -> None:
    sim.hold_vm(lab.shared, 1, "MIGRATE", 0.3)
    vms = json.loads(lab.ok("fe0", "onevm", "list", "-j").out)["VM_POOL"]["VM"]
    assert [v["LCM_STATE"] for v in vms] == ["3", "4", "3"]
    assert "migr" in lab.ok("fe0", "onevm", "list").out
    time.sleep(0.35)
    vms = json.loads(lab.ok("fe0", "onevm", "list", "-j").out)["VM_POOL"]["VM"]
    assert [v["LCM_STATE"] for v in vms] == ["3", "3", "3"]


def test_force_election_and_status(lab: FakeLab) -> None:
    sim.force_election(lab.shared, "fe2")
    st = lab.status()
    assert st["leader"] == "fe2"
    assert st["term"] == 2
    assert st["nodes"]["hv0"]["release"] == "6.10.5"
    assert st["nodes"]["fe0"]["units"]["opennebula.service"] == "active"
    assert [h["short"] for h in st["hosts"]] == ["on", "on"]
    json.dumps(st)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_read_only_commands_write_nothing(lab: FakeLab) -> None:
    before = _tree(lab.base)
    for node, argv in (
        ("fe0", ["onezone", "show", "0", "-j"]),
        ("fe1", ["onezone", "list", "-x"]),
        ("fe1", ["onehost", "list", "-j"]),
        ("fe2", ["onevm", "list"]),
        ("fe0", ["onedb", "version"]),
        ("fe0", ["onecfg", "status"]),
        ("fe0", ["systemctl", "list-units", "--all"]),
        ("fe0", ["systemctl", "is-active", "opennebula"]),
        ("hv0", ["dpkg-query", "-W"]),
        ("hv0", ["apt-cache", "policy", "opennebula-node-kvm"]),
    ):
        lab.run(node, *argv)
    assert _tree(lab.base) == before


def test_stdlib_only_under_system_python(lab: FakeLab) -> None:
    root = lab.root("fe0")
    code = (
        "import sys; sys.dont_write_bytecode = True; "
        f"sys.path.insert(0, {str(root / 'usr/lib/one-lab')!r}); "
        "from sim.main import main; sys.exit(main('onezone', ['show', '0', '-j']))"
    )
    env = {"ONESIM_ROOT": str(root), "PATH": "/usr/bin:/bin"}
    package = root / "usr/lib/one-lab/sim"
    files_before = sorted(p.relative_to(package) for p in package.rglob("*"))
    r = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ZONE"]["SERVER_POOL"]["SERVER"][0]["STATE"] == "3"
    wrapper = (root / "usr/bin/onezone").read_text()
    assert wrapper.startswith("#!/usr/bin/python3 -IS\n")
    assert "main('onezone'" in wrapper
    # the package arrives byte-compiled; running it writes nothing into it
    assert list(package.rglob("*.pyc"))
    assert sorted(p.relative_to(package) for p in package.rglob("*")) == files_before


def test_an_enabled_host_reports_a_fresh_result_only_after_its_next_cycle(lab: FakeLab) -> None:
    def shown() -> dict[str, Any]:
        return dict(json.loads(lab.ok("fe0", "onehost", "show", "-j", "0").out)["HOST"])

    lab.ok("fe0", "onehost", "disable", "0")
    before = int(time.time())
    lab.ok("fe0", "onehost", "enable", "0")
    assert shown()["STATE"] == "2"
    assert int(shown()["MONITORING"]["TIMESTAMP"]) < before
    time.sleep(pool.INIT_WINDOW)
    assert int(shown()["MONITORING"]["TIMESTAMP"]) >= before
    assert "ERROR" not in shown()["TEMPLATE"]


def test_onehost_has_no_verbose_nor_rsync_and_sync_takes_a_range(lab: FakeLab) -> None:
    # OpenNebula's onehost drops the CLI's --verbose; sync copies with rsync by default
    for argv in (("disable", "0", "-v"), ("enable", "0", "--verbose"), ("sync", "--rsync")):
        r = lab.run("fe0", "onehost", *argv)
        assert (r.rc, r.err) == (255, f"invalid option: {argv[-1]}\n")
    assert {h["STATE"] for h in hosts(lab)} == {"2"}  # nothing was disabled
    (lab.root("fe0") / "var/lib/one/remotes/VERSION").write_text("7.0.2\n")
    out = lab.ok("fe0", "onehost", "sync", "1").out
    assert out.startswith("* Adding hv1 to upgrade\n[")  # hv0 is not named: left alone


OUTPUTS = Path(__file__).resolve().parents[4] / "shared/opennebula/outputs"  # real answers


@pytest.mark.parametrize("recorded", ["610_onehost_show_0_json.txt", "700_onehost_show_0_json.txt"])
def test_a_hosts_datastore_share_reads_as_on_real_opennebula(lab: FakeLab, recorded: str) -> None:
    text = (OUTPUTS / recorded).read_text()
    real = json.loads(text[text.index("{") : text.rindex("}") + 1])["HOST"]["HOST_SHARE"]
    sim = json.loads(lab.ok("fe0", "onehost", "show", "-j", "0").out)["HOST"]["HOST_SHARE"]
    assert {k: type(v) for k, v in sim["DATASTORES"].items()} == {
        k: type(v) for k, v in real["DATASTORES"].items()
    }


@pytest.mark.parametrize("release", ["6.10.5", "7.0.2", "7.2.0"])
def test_monitord_conf_listens_where_the_release_ships_it(release: str) -> None:
    tarball = OUTPUTS.parent / f"opennebula-{release}.tar.xz"
    shipped = subprocess.run(
        ["tar", "-xJOf", str(tarball), f"opennebula-{release}/src/monitor/etc/monitord.conf"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def address(conf: str) -> str:
        network = conf[conf.index("NETWORK = [") :]
        return network.split("ADDRESS", 1)[1].split('"')[1]

    assert address(onedconf.monitord_conf(release)) == address(shipped)

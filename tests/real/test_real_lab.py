"""The real tier: OpenNebula built from its upstream source, installed with apt on the
nodes, a raft zone of real oned processes, hosts monitored over SSH, VMs running.

One 3+2 lab (conftest.py's, shared with the differential test; these tests only read
it, except the last, which takes it down). The first run on a machine builds OpenNebula
(minutes); later runs use the cache. A missing build fails here, it does not skip.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from onelab import Lab
from onelab.procs import lab_namespaces, node_marker, pid_in_lab
from tests.e2e.runner import run_runbook, sh

pytestmark = [pytest.mark.real, pytest.mark.lab]


def _zone(lab: Lab, node: str) -> dict[str, Any]:
    return dict(json.loads(sh(lab, node, "onezone show 0 -j"))["ZONE"])


def _servers(zone: dict[str, Any]) -> list[dict[str, Any]]:
    found = zone["SERVER_POOL"]["SERVER"]
    return [found] if isinstance(found, dict) else list(found)


def test_the_zone_has_one_leader_and_followers_of_one_term(real_lab: Lab) -> None:
    for asked in ("fe1", "fe2", "fe3"):  # every server answers for the zone
        servers = _servers(_zone(real_lab, asked))
        states = sorted(s["STATE"] for s in servers)
        assert states == ["2", "2", "3"], (asked, servers)
        assert len({s["TERM"] for s in servers}) == 1
        assert {s["NAME"] for s in servers} == {"fe1", "fe2", "fe3"}


def test_each_front_end_runs_its_own_oned_bound_to_its_address(real_lab: Lab) -> None:
    for name, address in list(real_lab.nodes.items())[:3]:
        conf = sh(real_lab, name, "grep -E '^(LISTEN_ADDRESS|    SERVER_ID)' /etc/one/oned.conf")
        assert f'LISTEN_ADDRESS = "{address}"' in conf
        server_id = int(name.removeprefix("fe")) - 1
        assert f"SERVER_ID     = {server_id}" in conf
        pid = sh(real_lab, name, "systemctl show opennebula -p MainPID --value").strip()
        assert int(pid) > 0
        owner = sh(real_lab, name, f"ps -o user=,comm= -p {pid}").split()
        assert owner == ["oneadmin", "oned"]


def test_hosts_are_monitored_by_the_dummy_driver_and_vms_run(real_lab: Lab) -> None:
    pool = json.loads(sh(real_lab, "fe1", "onehost list -j"))["HOST_POOL"]["HOST"]
    hosts = [pool] if isinstance(pool, dict) else pool
    assert sorted(h["NAME"] for h in hosts) == ["hv1", "hv2"]
    for host in hosts:
        assert host["STATE"] == "2"
        assert host["IM_MAD"] == "dummy"
        # a real monitoring result (`onehost show`; the list leaves MONITORING out)
        shown = json.loads(sh(real_lab, "fe1", f"onehost show -j {host['ID']}"))["HOST"]
        assert int(shown["MONITORING"]["TIMESTAMP"]) > 0
    # the dummy IM driver's agent, started over SSH as oneadmin (the pid namespace is
    # the machine's, so ps sees every node's processes)
    agents = sh(real_lab, "hv1", "ps -eo user=,args= | grep '[m]onitord-client.rb dummy'")
    assert {line.split()[0] for line in agents.splitlines()} == {"oneadmin"}
    vms = json.loads(sh(real_lab, "fe1", "onevm list -j"))["VM_POOL"]["VM"]
    vms = [vms] if isinstance(vms, dict) else vms
    assert len(vms) == 2
    assert {(v["STATE"], v["LCM_STATE"]) for v in vms} == {("3", "3")}


def test_packages_are_installed_by_dpkg_from_the_labs_repository(real_lab: Lab) -> None:
    out = sh(real_lab, "fe2", "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' 'opennebula*'")
    installed = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if "installed" in ln}
    for package in ("opennebula", "opennebula-common", "opennebula-tools", "opennebula-gate",
                    "opennebula-flow", "opennebula-libs"):  # fmt: skip
        assert installed.get(package) == "6.10.5-1", out
    conffiles = sh(real_lab, "fe2", "dpkg-query -W -f='${Conffiles}' opennebula")
    assert "/etc/one/oned.conf" in conffiles
    policy = sh(real_lab, "hv1", "apt-cache policy opennebula-node-kvm")
    assert "/repo/6.10/Debian/12 stable/opennebula" in policy
    assert sh(real_lab, "hv1", "id -u oneadmin").strip() == "9869"


def test_onedb_and_onehost_refuse_as_the_real_tools_do(real_lab: Lab) -> None:
    rc, out, err = real_lab.run("fe1", "onedb restore -f /var/lib/one/backups/lab-seed.sql")
    assert rc != 0
    assert "First stop OpenNebula" in out + err or "OpenNebula found listening" in out + err
    rc, out, err = real_lab.run("fe1", "onehost sync")
    assert rc == 255
    assert "Cannot run 'onehost sync' as root" in out + err
    # 6.10 Community Edition: no onedb migrators in the source, and onecfg has no status
    assert sh(real_lab, "fe1", "ls /usr/lib/one/ruby/onedb/shared | wc -l").strip() == "0"
    rc, out, err = real_lab.run("fe1", "onecfg status")
    assert rc == 0
    assert "Command 'status' not found" in out + err


def test_the_runbooks_dry_run_plans_the_upgrade_and_changes_nothing(
    real_lab: Lab, tmp_path: Path
) -> None:
    before = sh(real_lab, "fe1", "onezone show 0 -j")
    run = run_runbook(real_lab, tmp_path, "--dry-run")
    assert run.returncode == 0, run.output[-3000:]
    assert run.commands(mutating=True) == []
    planned = [r["command"] for r in run.audit if r.get("planned")]
    assert any("apt-get install" in c and "opennebula" in c for c in planned)
    assert any("onedb upgrade" in c for c in planned)
    after = _servers(json.loads(sh(real_lab, "fe1", "onezone show 0 -j"))["ZONE"])
    assert {s["NAME"]: s["STATE"] for s in after} == {
        s["NAME"]: s["STATE"] for s in _servers(json.loads(before)["ZONE"])
    }


def test_down_stops_every_process_including_the_monitoring_agents(real_lab: Lab) -> None:
    marker = node_marker(str(real_lab.dir / "nodes"))
    # the pid namespace is the machine's: pgrep also sees other labs' agents, so keep
    # the ones whose mount namespace is one of this lab's nodes. monitord restarts a
    # silent host's agent (MONITORING_INTERVAL_HOST, 60 s in the lab): wait for one.
    deadline = time.monotonic() + 120
    while True:
        found = sh(real_lab, "hv1", "pgrep -u oneadmin -f monitord-client.rb || true").split()
        agents = [int(pid) for pid in found if pid_in_lab(int(pid), marker)]
        if agents or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert agents, "the dummy IM driver's agents run"
    real_lab.down()
    assert lab_namespaces(marker) == {}
    for pid in agents:  # gone, or the pid is now another process outside the lab
        assert not pid_in_lab(pid, marker), pid

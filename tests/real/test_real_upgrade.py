"""The runbook upgrades a real zone: 6.10 -> 7.0 on a real 3+2 lab, judged with the real CLI.

One lab for the module, changed in order: the first run fails in step 6 (a `onedb
restore` on a follower exits 255 once), `--lf --hypervisors hv1` completes the control
plane and a first wave, a run for every hypervisor completes the campaign, the end
state is read with OpenNebula's own commands, and a second run, from this controller
and from one with no journal, must change nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onelab import Lab
from tests.e2e.runner import Run, run_runbook, server_ids, sh

pytestmark = [pytest.mark.real, pytest.mark.lab]

FRONTENDS = ("fe1", "fe2", "fe3")
HYPERVISORS = ("hv1", "hv2")


@dataclass
class Campaign:
    lab: Lab
    reports: Path
    started: float  # the first run's start (host clock = nodes' clock)
    ids_before: dict[str, str]
    vms_before: set[str]
    failed: Run
    resumed: Run  # --lf, first wave: hv1
    between_waves: dict[str, str]  # hv2 after the first wave: its STATE and node package
    completed: Run  # every hypervisor


def _listed(data: dict[str, Any], pool: str, item: str) -> list[dict[str, Any]]:
    found = (data.get(pool) or {}).get(item, [])
    return [found] if isinstance(found, dict) else list(found)


def _servers(lab: Lab, node: str = "fe1") -> list[dict[str, Any]]:
    return _listed(json.loads(sh(lab, node, "onezone show 0 -j"))["ZONE"], "SERVER_POOL", "SERVER")


def _node_package(lab: Lab, node: str) -> str:
    return sh(lab, node, "dpkg-query -W -f='${Version}' opennebula-node-kvm")


def _vms(lab: Lab) -> list[dict[str, Any]]:
    return _listed(json.loads(sh(lab, "fe1", "onevm list -j")), "VM_POOL", "VM")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    base = tmp_path_factory.mktemp("real-upgrade")
    lab = Lab.up(base / "lab", 3, 2, "6.10", opennebula="real")
    try:
        ids = server_ids(lab)
        vms = {v["ID"] for v in _vms(lab)}
        started = time.time()
        lab.fault("fe3", "onedb restore", times=1, action="exit", exit_code=255)
        failed = run_runbook(lab, base / "reports", timeout=1800)
        lab.clear_faults()
        resumed = run_runbook(lab, base / "reports", "--lf", "--hypervisors", "hv1", timeout=1800)
        time.sleep(20)  # monitoring cycles of the started front-ends
        pool = _listed(json.loads(sh(lab, "fe1", "onehost list -j")), "HOST_POOL", "HOST")
        hv2 = next(h for h in pool if h["NAME"] == "hv2")
        between = {"STATE": hv2["STATE"], "node": _node_package(lab, "hv2")}
        completed = run_runbook(lab, base / "reports", "--hypervisors", "hv*", timeout=1800)
        yield Campaign(
            lab, base / "reports", started, ids, vms, failed, resumed, between, completed
        )
    finally:
        lab.down()


def test_a_failed_restore_stops_step_6_and_lf_completes(campaign: Campaign) -> None:
    failed, resumed = campaign.failed, campaign.resumed
    assert failed.returncode == 1, failed.output[-4000:]
    assert "step 6" in failed.output, failed.output[-4000:]
    assert "fe3" in failed.output, failed.output[-4000:]
    assert resumed.returncode == 0, resumed.output[-6000:]
    redone = [r["node"] for r in resumed.commands(mutating=True) if "onedb restore" in r["command"]]
    assert redone == ["fe3"]
    # nothing of steps 0 to 5 was done again
    early = [
        r["command"]
        for r in resumed.commands(mutating=True)
        if int(str(r.get("step", "-1")).split(":")[0] or -1) in range(6)
    ]
    assert early == []


def test_a_later_waves_host_is_kept_offline_until_its_turn(campaign: Campaign) -> None:
    # monitoring copies the front-end's remotes to every host not OFFLINE (the lab's
    # dummy IM driver copies none, so the state is what this tier can show): hv2, still
    # on the 6.10 node package after the first wave, is OFFLINE
    assert campaign.between_waves == {"STATE": "8", "node": "6.10.5-1"}
    completed = campaign.completed
    assert completed.returncode == 0, completed.output[-6000:]
    steps = {int(str(r.get("step", "-1")).split(":")[0]) for r in completed.commands(mutating=True)}
    assert steps == {9}, steps  # the control plane was done: only hv2's work
    syncs = [r for r in completed.commands(mutating=True) if "onehost sync" in r["command"]]
    assert all(r["command"].rstrip("'\"").endswith("sync 1") for r in syncs), syncs


def test_every_front_end_runs_7_0_on_a_7_0_database(campaign: Campaign) -> None:
    lab = campaign.lab
    for node in FRONTENDS:
        version = sh(lab, node, "dpkg-query -W -f='${Version}' opennebula")
        assert version == "7.0.2-1", (node, version)
        out = sh(lab, node, "onedb version")
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", out, re.M)
        assert versions == [("Shared", "7.0.0"), ("Local", "7.0.0")], (node, out)
        # the migrators were installed with the upgrade (6.10 had none)
        assert sh(lab, node, "ls /usr/lib/one/ruby/onedb/shared").strip(), node
        # onecfg processed the configuration: no errors, no pending updates
        rc, out, err = lab.run(node, "onecfg status")
        assert rc == 0, (node, out + err)
        assert "No updates available" in out, (node, out)
    assert server_ids(lab) == campaign.ids_before


def test_the_zone_has_one_leader_and_the_followers_in_sync(campaign: Campaign) -> None:
    lab = campaign.lab
    servers = assert_in_sync(lab)
    assert {s["NAME"] for s in servers} == set(FRONTENDS)


def test_hosts_are_monitored_after_the_upgrade_and_the_vms_still_run(campaign: Campaign) -> None:
    lab = campaign.lab
    pool = _listed(json.loads(sh(lab, "fe1", "onehost list -j")), "HOST_POOL", "HOST")
    assert sorted(h["NAME"] for h in pool) == list(HYPERVISORS)
    for host in pool:
        assert host["STATE"] == "2", host["NAME"]
        shown = json.loads(sh(lab, "fe1", f"onehost show -j {host['ID']}"))["HOST"]
        stamp = int(shown["MONITORING"]["TIMESTAMP"])
        assert stamp > campaign.started, f"{host['NAME']}: last monitored {stamp}"
        assert "ERROR" not in (shown.get("TEMPLATE") or {}), shown["TEMPLATE"]
    for node in HYPERVISORS:
        version = sh(lab, node, "dpkg-query -W -f='${Version}' opennebula-node-kvm")
        assert version == "7.0.2-1", (node, version)
    vms = _vms(lab)
    assert {v["ID"] for v in vms} == campaign.vms_before
    assert {(v["STATE"], v["LCM_STATE"]) for v in vms} == {("3", "3")}


def test_a_second_run_changes_nothing(campaign: Campaign) -> None:
    again = run_runbook(campaign.lab, campaign.reports, timeout=1800)
    assert again.returncode == 0, again.output[-4000:]
    assert [f"{r['node']}: {r['command']}" for r in again.commands(mutating=True)] == []


def test_a_run_from_a_controller_without_the_journal_changes_nothing(campaign: Campaign) -> None:
    again = run_runbook(campaign.lab, campaign.reports.parent / "other-controller", timeout=1800)
    assert again.returncode == 0, again.output[-4000:]
    assert [f"{r['node']}: {r['command']}" for r in again.commands(mutating=True)] == []


def test_the_upgrade_is_rolled_back_to_6_10_5(campaign: Campaign) -> None:
    lab, reports = campaign.lab, campaign.reports
    roll_back(lab, reports)
    assert_rolled_back(lab, campaign.ids_before, campaign.vms_before, HYPERVISORS)
    again = run_runbook(lab, reports, procedure="rollback/", timeout=1800)
    assert again.returncode == 0, again.output[-4000:]
    assert [f"{r['node']}: {r['command']}" for r in again.commands(mutating=True)] == []


def assert_in_sync(lab: Lab) -> list[dict[str, Any]]:
    """One leader, two followers, all on one TERM and COMMIT (within a minute: a
    follower's COMMIT follows the leader's on the next heartbeat)."""
    deadline = time.monotonic() + 60
    while True:
        servers = _servers(lab)
        states = sorted(s["STATE"] for s in servers)
        in_sync = len({(s["TERM"], s["COMMIT"]) for s in servers}) == 1
        if (states == ["2", "2", "3"] and in_sync) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert states == ["2", "2", "3"], servers
    assert in_sync, servers
    return servers


def roll_back(lab: Lab, reports: Path) -> Run:
    """`pytest rollback/`: refused without --accept-loss-since, then run with the time
    the refusal names."""
    refused = run_runbook(lab, reports, procedure="rollback/", timeout=1800)
    assert refused.returncode == 1, refused.output[-4000:]
    assert refused.commands(mutating=True) == []
    since = re.search(r"--accept-loss-since (\S+Z)\b", refused.output)
    assert since, refused.output[-4000:]
    run = run_runbook(
        lab, reports, "--accept-loss-since", since.group(1), procedure="rollback/", timeout=1800
    )
    assert run.returncode == 0, run.output[-6000:]
    return run


# each release the lab builds and the database version its oned needs
DB_VERSION = {"6.10.5": "6.10.0", "7.0.2": "7.0.0", "7.2.0": "7.2.0"}


def assert_rolled_back(
    lab: Lab,
    ids: dict[str, str],
    vms: set[str],
    hypervisors: tuple[str, ...],
    release: str = "6.10.5",
) -> None:
    """A healthy zone at `release` again, read with OpenNebula's own commands."""
    assert_healthy_at(lab, ids, vms, hypervisors, release)


def assert_healthy_at(
    lab: Lab, ids: dict[str, str], vms: set[str], hypervisors: tuple[str, ...], release: str
) -> None:
    """A healthy zone at `release` (the same servers and VMs), read with OpenNebula's own
    commands."""
    for node in FRONTENDS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula") == f"{release}-1", node
        if release.startswith("6."):
            rc, _, _ = lab.run(
                node, "dpkg-query -W -f='${Status}' opennebula-migration | grep -q ok"
            )
            assert rc != 0, f"{node}: 7.0's opennebula-migration is still installed"
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", sh(lab, node, "onedb version"), re.M)
        db = DB_VERSION[release]
        assert versions == [("Shared", db), ("Local", db)], (node, versions)
    assert server_ids(lab) == ids
    assert_in_sync(lab)
    zone = json.loads(sh(lab, "fe1", "onezone show 0 -j"))["ZONE"]
    assert zone["STATE"] == "0", "the zone is still disabled"
    pool = _listed(json.loads(sh(lab, "fe1", "onehost list -j")), "HOST_POOL", "HOST")
    assert {h["NAME"]: h["STATE"] for h in pool} == dict.fromkeys(hypervisors, "2")
    for node in hypervisors:
        assert _node_package(lab, node) == f"{release}-1", node
    running = _vms(lab)
    assert {v["ID"] for v in running} == vms
    assert {(v["STATE"], v["LCM_STATE"]) for v in running} == {("3", "3")}

"""7.0 -> 7.2 on real OpenNebula whose HA zone keeps its database in MariaDB, as
production zones do: a failure after the stop, the rollback to 7.0.2, then the upgrade
again to the end through two more faults, proven by step 8's write probe, and a rerun
that changes nothing.

One 3+2 lab at 7.0 (`--db mysql`), changed in order: the upgrade fails in step 6 (a
follower's `onedb restore` exits 255 once: the control plane is down, the leader upgraded),
`pytest rollback/` brings back a healthy 7.0.2 zone, and `pytest runbook/` upgrades it
again: fe2's OpenNebula does not start in step 7 (its `systemctl start` fails), then
`--lf` finds hv2 unreachable in step 9 (its sshd and sessions taken down while its
first step-9 command hangs), then `--lf` with hv2 back finishes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from onelab import Lab
from tests.e2e.runner import (
    Run,
    changes_in_steps,
    finished_run,
    run_runbook,
    server_ids,
    sh,
    start_runbook,
    step_of,
    stopped_line,
    wait_for_step,
)
from tests.real.test_real_upgrade import (
    FRONTENDS,
    HYPERVISORS,
    _listed,
    _vms,
    assert_in_sync,
    assert_rolled_back,
    roll_back,
)

pytestmark = [pytest.mark.real, pytest.mark.lab, pytest.mark.mariadb]


@dataclass
class Campaign:
    lab: Lab
    reports: Path
    ids_before: dict[str, str]
    vms_before: set[str]
    failed: Run
    rolled_back: Run
    after_rollback: str | None  # why the zone was not a healthy 7.0.2 zone then (None: it was)
    not_started: Run  # fe2's OpenNebula did not start in step 7
    active_then: dict[str, str]  # each front-end's `systemctl is-active opennebula` after it
    unreachable: Run  # --lf: hv2 unreachable in step 9
    hv1_then: str  # hv1's node package after it
    upgraded: Run  # --lf with hv2 back


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    base = tmp_path_factory.mktemp("real-72-mysql")
    lab = Lab.up(base / "lab", 3, 2, "7.0", opennebula="real", db="mysql")
    reports = base / "reports"
    try:
        ids, vms = server_ids(lab), {v["ID"] for v in _vms(lab)}
        lab.fault("fe3", "onedb restore", times=1, action="exit", exit_code=255)
        failed = run_runbook(lab, reports, timeout=1800)
        lab.clear_faults()
        rolled_back = roll_back(lab, reports)
        try:  # judged now: the upgrade below changes it again
            assert_rolled_back(lab, ids, vms, HYPERVISORS, release="7.0.2")
            after_rollback = None
        except AssertionError as exc:
            after_rollback = str(exc)
        lab.fault("fe2", "systemctl start", times=None, action="exit", exit_code=1)
        not_started = run_runbook(lab, reports, timeout=1800)
        lab.clear_faults()
        active = {n: lab.run(n, "systemctl is-active opennebula")[1].strip() for n in FRONTENDS}
        unreachable = _hypervisor_lost_in_step_9(lab, reports, "hv2")
        hv1 = sh(lab, "hv1", "dpkg-query -W -f='${Version}' opennebula-node-kvm")
        upgraded = run_runbook(lab, reports, "--lf", timeout=1800)
        yield Campaign(lab, reports, ids, vms, failed, rolled_back, after_rollback,
                       not_started, active, unreachable, hv1, upgraded)  # fmt: skip
    finally:
        lab.down()


def _hypervisor_lost_in_step_9(lab: Lab, reports: Path, node: str) -> Run:
    """`--lf` with `node` taken down (sshd and sessions) once step 9 works on it."""
    lab.fault(node, "dpkg --audit", times=None, action="hang")  # its first step-9 command
    before = set(reports.glob("*/*.jsonl"))
    proc = start_runbook(lab, reports, "--lf")
    try:
        wait_for_step(reports, "test_09", "running", limit=900)
        time.sleep(2)
        lab.stop_node(node)
        proc.wait(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        lab.clear_faults()
    lab.start_node(node)
    return finished_run(reports, before, proc.returncode)


def test_a_failure_after_the_stop_is_rolled_back_to_a_healthy_7_0_2_zone(
    campaign: Campaign,
) -> None:
    failed = campaign.failed
    stopped = stopped_line(failed)
    assert "step 6" in stopped, stopped
    assert "fe3" in stopped, stopped
    stops = [r for r in failed.commands(mutating=True) if "systemctl stop" in r["command"]]
    assert stops, "the control plane was never stopped"
    assert campaign.rolled_back.returncode == 0, campaign.rolled_back.output[-4000:]
    assert campaign.after_rollback is None, campaign.after_rollback


def test_a_follower_whose_opennebula_does_not_start_fails_step_7_alone(
    campaign: Campaign,
) -> None:
    run = campaign.not_started
    stopped = stopped_line(run)
    assert "step 7" in stopped, stopped
    assert "fe2" in stopped, stopped
    # the leader and the other follower were started all the same
    assert campaign.active_then == {"fe1": "active", "fe2": "inactive", "fe3": "active"}
    assert changes_in_steps(run, range(8, 10)) == []


def test_an_unreachable_hypervisor_fails_step_9_for_itself_only(campaign: Campaign) -> None:
    run = campaign.unreachable
    assert run.returncode == 1
    failed = [r for r in run.audit if r.get("kind") == "step" and r.get("outcome") == "failed"]
    assert failed, [r for r in run.audit if r.get("kind") == "step"]
    assert all("test_09" in r["step"] for r in failed), failed
    reasons = " ".join(str(r.get("reason")) for r in failed)
    assert "hv2" in reasons, reasons
    assert "hv1" not in reasons, reasons
    # steps 7 and 8 passed on the --lf (fe2 started, the probe written), and hv1 upgraded
    assert {step_of(r) for r in run.commands(mutating=True)} >= {7, 8, 9}
    assert campaign.hv1_then == "7.2.0-1"
    assert not [r for r in run.commands(mutating=True)
                if r["node"] == "hv2" and "apt-get install" in r["command"]]  # fmt: skip


def test_the_zone_is_then_upgraded_to_7_2_and_proven_to_replicate(campaign: Campaign) -> None:
    lab, run = campaign.lab, campaign.upgraded
    assert run.returncode == 0, run.output[-6000:]
    assert changes_in_steps(run, range(9)) == []  # the --lf upgraded hv2 alone
    assert {r["node"] for r in run.commands(mutating=True)} - {"fe1"} == {"hv2"}
    for node in FRONTENDS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula") == "7.2.0-1", node
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", sh(lab, node, "onedb version"), re.M)
        assert versions == [("Shared", "7.2.0"), ("Local", "7.2.0")], (node, versions)
    assert server_ids(lab) == campaign.ids_before
    assert {s["NAME"] for s in assert_in_sync(lab)} == set(FRONTENDS)
    # the write probe went through the leader in step 8 and left nothing behind
    probes = [r for r in campaign.unreachable.commands(mutating=True) if "onegroup" in r["command"]]
    assert [r["command"].split()[2] for r in probes] == ["create", "delete"], probes
    assert {step_of(r) for r in probes} == {8}
    assert "oneupgrade-probe" not in sh(lab, "fe1", "onegroup list")
    pool = _listed(json.loads(sh(lab, "fe1", "onehost list -j")), "HOST_POOL", "HOST")
    assert {h["NAME"]: h["STATE"] for h in pool} == dict.fromkeys(HYPERVISORS, "2")
    for node in HYPERVISORS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula-node-kvm") == "7.2.0-1"
    vms = _vms(lab)
    assert {v["ID"] for v in vms} == campaign.vms_before
    assert {(v["STATE"], v["LCM_STATE"]) for v in vms} == {("3", "3")}


def test_a_rerun_of_the_upgraded_zone_changes_nothing(campaign: Campaign) -> None:
    again = run_runbook(campaign.lab, campaign.reports, timeout=1800)
    assert again.returncode == 0, again.output[-4000:]
    assert [f"{r['node']}: {r['command']}" for r in again.commands(mutating=True)] == []

"""--lf resumes a failed upgrade where it stopped; --dry-run changes nothing and plans it all."""

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from onelab import Lab
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    assert_healthy_at,
    changes_in_steps,
    run_runbook,
    runbook_in_background,
    sh,
    state_before,
    wait_for_step,
    zone,
)


def test_a_failed_install_on_a_follower_stops_step_5_and_lf_completes(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=2)
    ids, enabled = state_before(lab)
    lab.fault("fe2", "apt-get install", times=1, action="exit", exit_code=100)
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "step 5 'Upgrade OpenNebula in the Followers' failed" in first.output
    assert "fe2" in first.output
    lab.clear_faults()
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert "satisfied by earlier run(s)" in resumed.output
    assert changes_in_steps(resumed, range(5)) == []
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_fsck_errors_on_the_upgraded_leader_stop_step_4_and_lf_checks_again(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    ids, enabled = state_before(lab)
    leader = next(s["NAME"] for s in zone(lab)["SERVER_POOL"]["SERVER"] if s["STATE"] == "3")
    problem = "VM 3 has a wrong running VMs counter in host 0 (cpu 100 != 0)"
    lab.fsck_errors(leader, [problem])
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "step 4 'Upgrade the Leader' failed" in first.output, first.output[-3000:]
    assert f"{leader}: onedb fsck found 1 error(s) in the upgraded database" in first.output
    assert problem in first.output
    resumed = run_runbook(lab, report_dir, "--lf")  # fsck repaired it: the next one is clean
    assert resumed.returncode == 0, resumed.output
    fscks = [r["node"] for r in resumed.commands(mutating=True) if "onedb fsck" in r["command"]]
    assert leader in fscks
    assert_healthy_at(lab, "7.0", ids, enabled)
    # the Sunstone labels file put back for `onedb upgrade` is deleted once it is done
    views = "/etc/one/sunstone-views.yaml"
    for node in ("fe1", "fe2", "fe3"):
        assert sh(lab, node, f"test -e {views} && echo present || echo absent") == "absent\n"


def test_a_failed_restore_is_redone_by_lf_on_that_follower_only(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    ids, enabled = state_before(lab)
    lab.fault("fe3", "onedb restore", times=1, action="exit", exit_code=255)
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "step 6" in first.output
    lab.clear_faults()
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert changes_in_steps(resumed, range(6)) == []
    restores = [r for r in resumed.commands(mutating=True) if "onedb restore" in r["command"]]
    assert [r["node"] for r in restores] == ["fe3"]
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_a_failed_hypervisor_is_the_only_work_lf_redoes(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=3)
    ids, enabled = state_before(lab)
    lab.fault("hv2", "apt-get install", times=1, action="exit", exit_code=100)
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "hv2" in first.output
    lab.clear_faults()
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    touched = {r["node"] for r in resumed.commands(mutating=True) if r["node"].startswith("hv")}
    assert touched == {"hv2"}
    assert changes_in_steps(resumed, range(9)) == []
    assert_healthy_at(lab, "7.0", ids, enabled)


# A fault in each kind of work the steps do: the run stops in that step, names it, and
# --lf completes the upgrade without redoing a change of the steps before it.
FAULTS = [
    ("fe2", "apt-get update", "exit", 3),  # the download before anything stops
    ("fe1", "onecfg upgrade", "exit", 4),
    ("fe1", "onedb fsck", "exit", 4),
    ("fe2", "tar -xpf", "drop", 6),  # the configuration copy, its connection dropped
    ("fe2", "systemctl start", "exit", 7),
    ("fe1", "onezone enable", "exit", 8),  # enabled again for step 8's write probe
    ("fe1", "onegroup create", "exit", 8),  # the write probe itself
    ("fe1", "onehost sync", "exit", 9),
    ("hv2", "apt-get install", "drop", 9),
    ("hv1", "systemctl restart", "exit", 9),
    ("fe1", "onehost enable", "exit", 9),
]


@pytest.mark.parametrize(
    ("node", "pattern", "action", "step"),
    FAULTS,
    ids=[f"{p.replace(' ', '-')}-{a}-{n}" for n, p, a, _ in FAULTS],
)
def test_a_fault_stops_its_step_and_lf_completes(
    make_lab: LabFactory, report_dir: Path, node: str, pattern: str, action: str, step: int
) -> None:
    lab = make_lab(frontends=3, hypervisors=2)
    if pattern == "onehost sync":
        # Step 9 syncs only hosts still reporting older drivers; a monitoring cycle
        # slower than the lab's default keeps them reporting so under any load.
        lab.set_monitoring_interval(6.0)
    ids, enabled = state_before(lab)
    lab.fault(node, pattern, times=1, action=action)
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1, first.output
    assert re.search(rf"STOPPED: step {step} '[^']+' failed", first.output), first.output[-3000:]
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert changes_in_steps(resumed, range(step)) == []
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_lf_completes_after_the_run_was_killed_in_step_5(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"apt-get install": 2.0})
    ids, enabled = state_before(lab)
    with runbook_in_background(lab, report_dir):  # SIGKILLed as the block ends
        wait_for_step(report_dir, "test_05", "running")
        time.sleep(1.0)  # inside the followers' package upgrade
    time.sleep(3.0)  # what the killed run left running on the nodes finishes
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert changes_in_steps(resumed, range(5)) == []
    assert_healthy_at(lab, "7.0", ids, enabled)


def _snapshot(lab: Lab) -> dict[str, str]:
    """sha256 of every file of every node's overlays and of the shared cluster state."""
    digests = {}
    roots = [lab.upper(name) for name in lab.names] + [lab.shared]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir() or path.is_symlink():
                digests[str(path)] = "dir" if path.is_dir() else os.readlink(path)
    return digests


_VOLATILE = [
    (re.compile(r"\d{8}-\d{6}"), "<time>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}(\.\d+)?"), "<date>"),
    (re.compile(r"/var/lib/one/backups/oneupgrade/[^ ']+"), "<backup>"),
]


def _normalise(command: str) -> str:
    for pattern, replacement in _VOLATILE:
        command = pattern.sub(replacement, command)
    return command


def _per_node(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    plan: dict[str, list[str]] = {}
    for r in records:
        plan.setdefault(r["node"], []).append(_normalise(r["command"]))
    return plan


def test_a_dry_run_changes_nothing_and_plans_what_the_real_run_does(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=2)
    before = _snapshot(lab)
    dry = run_runbook(lab, report_dir, "--dry-run")
    assert dry.returncode == 0, dry.output
    assert _snapshot(lab) == before, "the dry run changed a node"
    assert dry.commands(mutating=True) == []
    planned = [r for r in dry.audit if r.get("kind") == "command" and r.get("planned")]
    assert planned
    real = run_runbook(lab, report_dir)
    assert real.returncode == 0, real.output
    assert _per_node(planned) == _per_node(real.commands(mutating=True))


def test_lf_against_another_cluster_does_not_see_this_ones_campaign(
    make_lab: LabFactory, report_dir: Path
) -> None:
    failed = make_lab(frontends=1, hypervisors=1)
    other = make_lab(frontends=1, hypervisors=1)
    failed.fault("fe1", "apt-get install", times=1, action="exit", exit_code=100)
    assert run_runbook(failed, report_dir).returncode == 1
    resumed = run_runbook(other, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert "no unfinished campaign in the journal: every step runs" in resumed.output
    assert "satisfied by earlier run" not in resumed.output
    assert {r["node"] for r in resumed.commands(mutating=True)} == {"fe1", "hv1"}


def test_a_driver_oned_could_not_load_fails_step_8_naming_it(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    ids, enabled = state_before(lab)
    lab.missing_driver("fe2", "one_vmm_exec")
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert re.search(r"STOPPED: step 8 '[^']+' failed on fe2", first.output), first.output[-3000:]
    assert "fe2: /var/log/one/oned.log since the start:" in first.output
    assert "[DrM][E]: File not exists: /usr/lib/one/mads/one_vmm_exec" in first.output
    assert "driver kvm: loading began but it never reported loaded" in first.output
    # the operator puts the driver back and restarts oned there; --lf checks again
    lab.clear_missing_drivers()
    rc, out, err = lab.run("fe2", "systemctl restart opennebula")
    assert rc == 0, out + err
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert changes_in_steps(resumed, range(8)) == []
    assert_healthy_at(lab, "7.0", ids, enabled)

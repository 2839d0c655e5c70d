"""`pytest rollback/`: Restoring the Previous Version from what the upgrade recorded."""

import json
import re
from pathlib import Path

import pytest

from onelab import Lab
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    Run,
    assert_healthy_at,
    hypervisors,
    package_version,
    run_runbook,
    sh,
    state_before,
)

pytestmark = pytest.mark.e2e


def _rollback(lab: Lab, report_dir: Path, *args: str) -> Run:
    return run_runbook(lab, report_dir, *args, procedure="rollback/")


def _vms(lab: Lab) -> dict[str, str]:
    pool = json.loads(sh(lab, "fe1", "onevm list -j"))["VM_POOL"] or {}
    found = pool.get("VM", [])
    return {vm["ID"]: vm["LCM_STATE"] for vm in ([found] if isinstance(found, dict) else found)}


def _accepted_time(run: Run) -> str:
    """The dump's time, as the refusal names it."""
    match = re.search(r"--accept-loss-since (\S+Z)\b", run.output)
    assert match, run.output
    return match.group(1)


def _rolled_back(lab: Lab, report_dir: Path) -> Run:
    refused = _rollback(lab, report_dir)
    assert refused.returncode == 1, refused.output
    assert refused.commands(mutating=True) == [], refused.commands(mutating=True)
    assert "loses every change to OpenNebula's database since" in refused.output
    since = _accepted_time(refused)
    wrong = _rollback(lab, report_dir, "--accept-loss-since", "2000-01-01T00:00:00Z")
    assert wrong.returncode == 1, wrong.output
    assert "does not match" in wrong.output
    assert wrong.commands(mutating=True) == []
    run = _rollback(lab, report_dir, "--accept-loss-since", since)
    assert run.returncode == 0, run.output[-6000:]
    return run


def test_a_completed_upgrade_is_rolled_back_and_can_be_upgraded_again(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=2, version="6.10")
    ids, enabled = state_before(lab)
    vms = _vms(lab)
    assert vms, "the lab has VMs"
    assert set(vms.values()) == {"3"}, vms  # RUNNING
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 0, upgrade.output[-4000:]
    assert package_version(lab, "fe2", "opennebula-migration").startswith("7.0.")
    late = lab.add_vm("created-after-the-upgrade")
    run = _rolled_back(lab, report_dir)
    said = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    assert any(f"1 VM(s) created since: {late}" in n for n in said), said
    assert_healthy_at(lab, "6.10", ids, enabled)
    assert _vms(lab) == vms  # the VM created since is lost, as stated
    for node in ("fe1", "fe2", "fe3"):
        assert package_version(lab, node, "opennebula") == "6.10.5"
        # the migrators 7.0 brought are gone with it (6.10 Community Edition has none)
        rc, _, _ = lab.run(node, "dpkg-query -W opennebula-migration")
        assert rc != 0, node
        assert "version: 6.10" in sh(lab, node, "cat /etc/onecfg.conf")
    # one database for the zone: the leader's dump, restored on every front-end
    restores = [c for c in run.commands(mutating=True) if "onedb restore -f" in c["command"]]
    assert sorted(c["node"] for c in restores) == ["fe1", "fe2", "fe3"]
    assert len({c["command"].split()[-1].rsplit("/", 1)[-1] for c in restores}) == 1
    # a second rollback changes nothing, and needs no acceptance: nothing is restored
    again = _rollback(lab, report_dir)
    assert again.returncode == 0, again.output[-4000:]
    assert again.commands(mutating=True) == []
    # and the cluster can be upgraded again: a new campaign
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 0, upgrade.output[-4000:]
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_a_rollback_after_onedb_upgrade_failed_on_the_leader(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    ids, enabled = state_before(lab)
    vms = _vms(lab)
    lab.fault("fe1", "onedb upgrade", times=None, action="exit", exit_code=255)
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 1, upgrade.output[-4000:]
    assert "test_04" in upgrade.output
    lab.clear_faults()
    run = _rolled_back(lab, report_dir)
    assert_healthy_at(lab, "6.10", ids, enabled, backed_up=("fe1",))
    assert _vms(lab) == vms
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    # the followers and the hypervisor were never upgraded: left alone
    assert "never changed by the upgrade, left alone: fe2, fe3, hv1" in notes, notes
    changed = {
        c["node"] for c in run.commands(mutating=True) if "systemctl stop" not in c["command"]
    }
    assert changed <= {"fe1", "fe2", "fe3"}, changed
    for node in ("fe2", "fe3"):
        done = [c["command"] for c in run.commands(mutating=True) if c["node"] == node]
        assert all(c.startswith("systemctl") for c in done), (node, done)


def test_a_rollback_after_one_hypervisor_failed_in_step_9(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=2, version="6.10")
    ids, enabled = state_before(lab)
    lab.fault("hv2", "apt-get install", times=None, action="exit", exit_code=100)
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 1, upgrade.output[-4000:]
    assert package_version(lab, "hv1", "opennebula-node-kvm").startswith("7.0.")
    assert package_version(lab, "hv2", "opennebula-node-kvm").startswith("6.10.")
    lab.clear_faults()
    run = _rolled_back(lab, report_dir)
    assert_healthy_at(lab, "6.10", ids, enabled)
    touched = {c["node"] for c in run.commands(mutating=True)}
    assert "hv2" not in touched, touched
    assert "hv1" in touched, touched
    syncs = [c["command"] for c in run.commands(mutating=True) if "onehost sync" in c["command"]]
    assert syncs, "no onehost sync"
    assert all("--force" in c for c in syncs), syncs


def test_a_rollback_on_almalinux(make_lab: LabFactory, report_dir: Path) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="7.0", os="alma9")
    ids, enabled = state_before(lab)
    before = package_version(lab, "fe1", "opennebula")
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 0, upgrade.output[-4000:]
    assert package_version(lab, "fe1", "opennebula").startswith("7.2.")
    plan = _rollback(lab, report_dir, "--dry-run")
    assert plan.returncode == 0, plan.output[-4000:]
    assert plan.commands(mutating=True) == []
    _rolled_back(lab, report_dir)
    assert_healthy_at(lab, "7.0", ids, enabled)
    assert package_version(lab, "fe1", "opennebula") == before
    for node in hypervisors(lab):
        assert package_version(lab, node, "opennebula-node-kvm") == before


def test_a_rollback_failing_half_way_blocks_the_upgrade_and_lf_finishes_it(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    ids, enabled = state_before(lab)
    assert run_runbook(lab, report_dir).returncode == 0
    since = _accepted_time(_rollback(lab, report_dir))
    lab.fault("fe2", "apt-get install --allow-downgrades", times=1, action="exit", exit_code=100)
    failed = _rollback(lab, report_dir, "--accept-loss-since", since)
    assert failed.returncode == 1, failed.output[-4000:]
    assert "pytest rollback/ --inventory" in failed.output
    # an upgrade now would start from a half rolled back zone: refused, naming the way out
    upgrade = run_runbook(lab, report_dir)
    assert upgrade.returncode == 1, upgrade.output[-4000:]
    assert "has not finished: finish it first with pytest rollback/" in upgrade.output
    assert upgrade.commands(mutating=True) == []
    resumed = _rollback(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output[-6000:]
    # the database was restored once, by the first run; only fe2 still needed its packages
    redone = [c for c in resumed.commands(mutating=True) if "onedb restore" in c["command"]]
    assert redone == []
    installs = {c["node"] for c in resumed.commands(mutating=True) if "apt-get" in c["command"]}
    assert installs == {"fe2", "hv1"}, installs
    assert_healthy_at(lab, "6.10", ids, enabled)


def test_a_rollback_refused_in_preflight_leaves_the_upgrade_to_resume(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="6.10")
    ids, enabled = state_before(lab)
    lab.fault("hv1", "apt-get install", times=None, action="exit", exit_code=100)
    assert run_runbook(lab, report_dir).returncode == 1
    lab.clear_faults()
    refused = _rollback(lab, report_dir)  # the operator looks, then decides to go forward
    assert refused.returncode == 1
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output[-4000:]
    steps = {str(c["step"]).split(":")[0] for c in resumed.commands(mutating=True)}
    assert steps == {"09"}, steps
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_with_overlap_followers_a_failed_leader_leaves_them_upgraded_and_the_rollback_restores_all(
    make_lab: LabFactory, report_dir: Path
) -> None:
    """--overlap-followers' trade-off, as its help states it: the leader's upgrade fails,
    the followers are upgraded meanwhile, and the rollback takes every front-end back."""
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    ids, enabled = state_before(lab)
    lab.fault("fe1", "onedb upgrade", times=None, action="exit", exit_code=255)
    upgrade = run_runbook(lab, report_dir, "--overlap-followers")
    assert upgrade.returncode == 1, upgrade.output[-4000:]
    assert "roll back every front-end with pytest rollback/" in upgrade.output
    for follower in ("fe2", "fe3"):  # upgraded during the leader's failed step 4
        assert package_version(lab, follower, "opennebula").startswith("7.0."), follower
    lab.clear_faults()
    run = _rolled_back(lab, report_dir)
    assert_healthy_at(lab, "6.10", ids, enabled)
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    assert "never changed by the upgrade, left alone: hv1" in notes, notes

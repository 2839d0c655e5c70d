"""`pytest rollback/` on a real 3+2 zone after upgrades that failed half way, then the
zone, rolled back, upgraded from 6.10 to 7.2.

One lab, changed in order: an upgrade whose `onedb upgrade` fails on the leader
(step 4) is rolled back; then an upgrade whose node package install fails on hv2
(step 9, the control plane already at 7.0) is rolled back. Each time the zone must be
a healthy 6.10.5 again, read with OpenNebula's own commands. Last, the documented
6.10 -> 7.2 (`--target 7.2`): a healthy 7.2.0 zone, its step-8 probe write committed on
every server, or a stop in step 8 that names OpenNebula's SqliteDB defect with no
hypervisor touched (see test_real_72.py; this zone has so far always replicated).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from onelab import Lab
from tests.e2e.runner import run_runbook, server_ids, sh, step_of
from tests.real.test_real_72 import assert_upgraded_on_sqlite
from tests.real.test_real_upgrade import HYPERVISORS, _vms, assert_rolled_back, roll_back

pytestmark = [pytest.mark.real, pytest.mark.lab]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("real-rollback")
    lab = Lab.up(base / "lab", 3, 2, "6.10", opennebula="real")
    try:
        yield lab
    finally:
        lab.down()


def test_a_failed_onedb_upgrade_on_the_leader_is_rolled_back(lab: Lab, tmp_path: Path) -> None:
    ids, vms = server_ids(lab), {v["ID"] for v in _vms(lab)}
    lab.fault("fe1", "onedb upgrade", times=None, action="exit", exit_code=255)
    failed = run_runbook(lab, tmp_path, timeout=1800)
    lab.clear_faults()
    assert failed.returncode == 1, failed.output[-4000:]
    assert "step 4" in failed.output, failed.output[-4000:]
    run = roll_back(lab, tmp_path)
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    assert "never changed by the upgrade, left alone: fe2, fe3, hv1, hv2" in notes, notes
    assert_rolled_back(lab, ids, vms, HYPERVISORS)


def test_a_failed_hypervisor_in_step_9_is_rolled_back(lab: Lab, tmp_path: Path) -> None:
    ids, vms = server_ids(lab), {v["ID"] for v in _vms(lab)}
    lab.fault("hv2", "apt-get install", times=None, action="exit", exit_code=100)
    failed = run_runbook(lab, tmp_path, timeout=1800)
    lab.clear_faults()
    assert failed.returncode == 1, failed.output[-4000:]
    assert "step 9" in failed.output, failed.output[-4000:]
    front = sh(lab, "fe2", "dpkg-query -W -f='${Version}' opennebula")
    assert front == "7.0.2-1", front
    run = roll_back(lab, tmp_path)
    touched = {r["node"] for r in run.commands(mutating=True)}
    assert "hv2" not in touched, touched  # its node package never moved
    assert "hv1" in touched, touched
    assert_rolled_back(lab, ids, vms, HYPERVISORS)


def test_the_rolled_back_zone_is_upgraded_from_6_10_to_7_2(lab: Lab, tmp_path: Path) -> None:
    ids, vms = server_ids(lab), {v["ID"] for v in _vms(lab)}
    run = run_runbook(lab, tmp_path, "--target", "7.2", timeout=1800)
    probes = [r for r in run.commands(mutating=True) if "onegroup" in r["command"]]
    assert [r["command"].split()[2] for r in probes][:1] == ["create"], probes
    assert {step_of(r) for r in probes} == {8}
    assert_upgraded_on_sqlite(lab, run, ids, vms, hypervisors_from="6.10.5-1")

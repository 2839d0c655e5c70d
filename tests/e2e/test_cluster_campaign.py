"""The campaign lives with the cluster: one run at a time across controllers (a lock on the
front-ends), and the journal's copies there, so a second controller resumes where the first
stopped. Each controller is a report directory of its own and a process of its own."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from onelab import Lab
from oneupgrade.campaign.clusterlock import LOCK_DIR
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    assert_healthy_at,
    changes_in_steps,
    hosts,
    run_runbook,
    runbook_in_background,
    sh,
    state_before,
    step_of,
    wait_for_step,
)


def _lock_free(lab: Lab, node: str) -> bool:
    rc, _, _ = lab.run(node, f"test ! -e {LOCK_DIR}/lock || flock -n {LOCK_DIR}/lock true")
    return rc == 0


def _holder(lab: Lab, node: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sh(lab, node, f"cat {LOCK_DIR}/holder.json"))
    return data


def _cluster_journal(lab: Lab, node: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sh(lab, node, f"cat {LOCK_DIR}/journal.json"))
    return data


def test_a_run_from_a_second_controller_is_refused_while_one_runs_and_a_dry_run_is_not(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"onedb upgrade": 3.0})
    ids, enabled = state_before(lab)
    first_dir, second_dir, third_dir = (tmp_path / n for n in ("first", "second", "third"))
    with runbook_in_background(lab, first_dir) as proc:
        wait_for_step(first_dir, "test_04", "running")
        holder = _holder(lab, "fe2")
        second = run_runbook(lab, second_dir)
        planned = run_runbook(lab, third_dir, "--dry-run")
        assert proc.wait(timeout=180) == 0
    assert second.returncode == 4, second.output[-3000:]
    assert "another run holds the cluster lock on fe1, fe2, fe3" in second.output
    assert f"run {holder['run']}" in second.output  # named, with its operator and controller
    assert "Traceback" not in second.output
    assert second.commands(mutating=True) == []
    # read-only: never blocked (what it can plan mid-outage is another matter)
    assert planned.returncode != 4, planned.output[-3000:]
    assert "cluster lock" not in planned.output
    assert [r for r in planned.commands(mutating=True) if not r.get("planned")] == []
    # the first run's lock went with it; the journal it left is on every front-end
    for node in ("fe1", "fe2", "fe3"):
        assert _lock_free(lab, node), node
        copy = _cluster_journal(lab, node)
        local = json.loads(next(first_dir.glob("*/journal.json")).read_text())
        assert copy["campaign"]["id"] == local["campaign"]["id"]
        assert copy["seq"] == local["seq"]
        assert copy["campaign"]["completed"], node
        mode = sh(lab, node, f"stat -c '%a %U' {LOCK_DIR} {LOCK_DIR}/journal.json").split()
        assert mode == ["700", "root", "600", "root"], (node, mode)
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_a_run_killed_in_step_6_is_resumed_from_another_controller(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=3, latencies={"onedb restore": 2.0})
    sh(lab, "fe1", "onehost disable hv2")  # disabled before: must stay disabled
    ids, enabled = state_before(lab)
    assert enabled == {"hv1", "hv3"}
    first_dir, second_dir = tmp_path / "laptop", tmp_path / "workstation"
    with runbook_in_background(lab, first_dir):  # SIGKILLed as the block ends
        wait_for_step(first_dir, "test_06", "running")
        time.sleep(0.5)  # inside the followers' restores
    deadline = time.monotonic() + 30
    while not all(_lock_free(lab, n) for n in ("fe1", "fe2", "fe3")):
        assert time.monotonic() < deadline, "the killed run's lock stayed"
        time.sleep(0.2)
    time.sleep(3.0)  # what the killed run left running on the nodes finishes
    resumed = run_runbook(lab, second_dir, "--lf")
    assert resumed.returncode == 0, resumed.output[-4000:]
    assert "campaign journal taken from the cluster" in resumed.output
    assert changes_in_steps(resumed, range(6)) == []
    states = {h["NAME"]: h["STATE"] for h in hosts(lab)}
    assert states == {"hv1": "2", "hv2": "4", "hv3": "2"}, states  # hv2 disabled as before
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_break_lock_takes_over_from_a_controller_that_hangs(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"onedb backup": 2.0})
    ids, enabled = state_before(lab)
    first_dir, second_dir = tmp_path / "suspended", tmp_path / "rescue"
    with runbook_in_background(lab, first_dir) as proc:
        wait_for_step(first_dir, "test_04", "running")
        os.killpg(proc.pid, signal.SIGSTOP)  # a laptop suspended: its connections stay up
        try:
            time.sleep(4.0)  # its commands on the nodes end meanwhile
            held = _holder(lab, "fe1")
            refused = run_runbook(lab, second_dir, "--lf")
            wrong = run_runbook(lab, second_dir, "--lf", "--break-lock", "20000101T000000Z")
            taken = run_runbook(lab, second_dir, "--lf", "--break-lock", held["run"])
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
    assert refused.returncode == 4, refused.output[-3000:]
    assert f"--break-lock {held['run']}" in refused.output
    assert wrong.returncode == 4, wrong.output[-3000:]
    assert "not by run 20000101T000000Z" in wrong.output
    assert wrong.commands(mutating=True) == []
    assert taken.returncode == 0, taken.output[-4000:]
    assert f"ended the session of run {held['run']}" in taken.output
    assert_healthy_at(lab, "7.0", ids, enabled)


def _stale_journal(report_dir: Path, cluster: str, campaign_id: str) -> Path:
    """A controller's journal of a campaign the cluster never saw (begun apart)."""
    path = report_dir / cluster / "journal.json"
    path.parent.mkdir(parents=True)
    campaign = {"id": campaign_id, "kind": "upgrade", "cluster": cluster, "source": "6.10.5",
                "target": "7.0", "started": 1.0e9, "completed": None, "runs": [],
                "steps": {}, "facts": {}}  # fmt: skip
    path.write_text(json.dumps({"campaign": campaign, "seq": 40}))
    return path


def test_two_unordered_campaigns_are_refused_with_both_described_and_a_choice(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    lab.fault("hv1", "apt-get install", times=None, action="exit", exit_code=100)
    first = run_runbook(lab, tmp_path / "a")
    lab.clear_faults()
    assert first.returncode == 1, first.output[-3000:]  # stopped in step 9: in progress
    cluster = str(lab.info["cluster"])
    campaign_id = _cluster_journal(lab, "fe2")["campaign"]["id"]
    other = tmp_path / "b"
    _stale_journal(other, cluster, "19990101T000000Z")
    refused = run_runbook(lab, other)
    assert refused.returncode == 4, refused.output[-3000:]
    text = " ".join(refused.output.split())
    assert "two campaigns that neither history contains" in text
    assert "campaign 19990101T000000Z" in text
    assert f"campaign {campaign_id}" in text
    assert "--campaign-from cluster" in text
    assert "--campaign-from local" in text
    assert refused.commands(mutating=True) == []
    chosen = run_runbook(lab, other, "--campaign-from", "cluster", "--lf")
    assert chosen.returncode == 0, chosen.output[-3000:]
    assert list((other / cluster).glob("journal.replaced-*.json")), "the local journal was lost"
    steps = {step_of(r) for r in chosen.commands(mutating=True)}
    assert steps == {9}, steps  # the cluster's campaign went on where it was


def _lock_holders(lab: Lab) -> list[str]:
    return [n for n in ("fe1", "fe2", "fe3") if not _lock_free(lab, n)]


def test_preflight_alone_neither_takes_the_lock_nor_is_blocked(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    # another controller's session holding the lock on one front-end
    transport = lab.connect("fe1").get_transport()
    assert transport is not None
    holder = transport.open_session()
    holder.exec_command(f"mkdir -p {LOCK_DIR} && exec flock {LOCK_DIR}/lock cat")
    try:
        deadline = time.monotonic() + 15
        while _lock_holders(lab) != ["fe1"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        alone = run_runbook(lab, tmp_path / "p", procedure="runbook/test_00_preflight.py")
        assert alone.returncode == 0, alone.output[-3000:]
        real = run_runbook(lab, tmp_path / "r")
        assert real.returncode == 4, real.output[-3000:]
        assert "another run holds the cluster lock on fe1" in real.output
        assert real.commands(mutating=True) == []
    finally:
        holder.shutdown_write()  # its `cat` ends, and the lock with it
        holder.recv_exit_status()
        holder.close()
    assert _lock_holders(lab) == []

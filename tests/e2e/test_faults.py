"""Faults during the upgrade: stop before harm or complete, say what happened, lose nothing."""

import html
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from onelab import Lab
from oneupgrade.plugin.report import read_report
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    assert_healthy_at,
    journal_steps,
    package_version,
    run_runbook,
    runbook_in_background,
    sh,
    state_before,
    wait_for_step,
    zone,
)

UPGRADE_FOLLOWERS = "runbook/test_05_upgrade_the_followers.py::test_every_follower_is_upgraded"


def _inventory(lab: Lab, name: str, **ssh: Any) -> Path:
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["ssh"].update(ssh)
    path = lab.dir / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_changed_and_unknown_host_keys_are_refused_before_any_command(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1)
    original = lab.known_hosts.read_text()
    lines = original.splitlines()
    fe1 = next(i for i, line in enumerate(lines) if line.startswith(f"[{lab.address('fe1')}]"))
    hv1 = next(i for i, line in enumerate(lines) if line.startswith(f"[{lab.address('hv1')}]"))
    # fe1 "reinstalled": the pinned key is another node's
    changed = list(lines)
    changed[fe1] = lines[fe1].split()[0] + " " + " ".join(lines[hv1].split()[1:])
    lab.known_hosts.write_text("\n".join(changed) + "\n")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1
    assert "fe1" in run.output
    assert "CHANGED" in run.output
    assert "SHA256:" in run.output
    assert run.commands() == []
    # hv1 unknown
    lab.known_hosts.write_text("\n".join(x for i, x in enumerate(lines) if i != hv1) + "\n")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1
    assert "hv1" in run.output
    assert "known_hosts" in run.output
    # nothing on hv1, nothing that changes a node; only the campaign's journal read on
    # fe1, whose key is the pinned one (every run reads it first: clusterjournal.py)
    read = [(r["node"], r["command"]) for r in run.commands()]
    assert read == [("fe1", "cat /var/lib/one/.oneupgrade/journal.json 2>/dev/null")]


def test_a_connection_dropped_during_a_read_only_probe_is_retried(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1)
    lab.fault("fe1", "onevm list", times=1, action="drop")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    lost = [r for r in run.audit if r.get("kind") == "command" and r.get("error")]
    assert [r["command"] for r in lost] == ["onevm list -j"]
    assert "retried" in lost[0]["error"]


def test_a_connection_dropped_during_a_change_fails_the_step_without_rerunning_it(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1)
    ids, enabled = state_before(lab)
    lab.fault("fe1", "onezone disable", times=1, action="drop")
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "connection lost" in first.output
    assert "NOT re-run" in first.output
    disables = [r for r in first.audit if "onezone disable" in str(r.get("command", ""))]
    assert len(disables) == 1
    assert zone(lab)["STATE"] == "1", "the command did take effect before the drop"
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert not [r for r in resumed.commands() if "onezone disable" in r["command"]]
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_a_hung_command_is_killed_at_its_deadline_on_the_node_too(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1)
    inventory = _inventory(lab, "short.yml", command_timeout=3)
    lab.fault("fe1", "onehost disable", times=1, action="hang")
    run = run_runbook(lab, report_dir, inventory=inventory)
    assert run.returncode == 1
    assert "onehost disable" in run.output
    assert "deadline of 3 s" in run.output
    time.sleep(6)  # timeout's -k grace on the node
    _, out, _ = lab.run("fe1", "ps -eo args")
    assert "onehost disable" not in out


def test_a_failed_leader_backup_stops_before_any_follower_is_touched(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    lab.fault("fe1", "onedb backup", times=1, action="exit", exit_code=255)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1
    assert "step 4" in run.output
    upgrades = [
        r
        for r in run.commands(mutating=True)
        if r["node"] != "fe1"
        and (
            "onedb" in r["command"]
            or ("--download-only" not in r["command"] and "apt-get install" in r["command"])
        )
    ]
    assert upgrades == []
    for follower in ("fe2", "fe3"):
        assert package_version(lab, follower, "opennebula").startswith("6.10.")


def test_a_copy_corrupted_in_transfer_is_never_restored(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    ids, enabled = state_before(lab)
    lab.fault("fe2", "*replication-*", times=1, action="corrupt")
    first = run_runbook(lab, report_dir)
    assert first.returncode == 1
    assert "sha256" in first.output
    assert "fe2" in first.output
    restores = [r["node"] for r in first.commands() if "onedb restore" in r["command"]]
    assert "fe2" not in restores
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_an_install_failing_on_one_follower_leaves_the_other_upgraded(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    lab.fault("fe3", "apt-get install", times=1, action="exit", exit_code=100)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1
    assert "failed on 1 node(s): fe3" in run.output
    assert package_version(lab, "fe2", "opennebula").startswith("7.0.")
    assert package_version(lab, "fe3", "opennebula").startswith("6.10.")


def test_leadership_moving_during_step_8_is_judged_correctly(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"onezone show": 0.5})
    ids, enabled = state_before(lab)
    with runbook_in_background(lab, report_dir) as proc:
        wait_for_step(report_dir, "test_08", "running")
        lab.elect("fe2")
        assert proc.wait(timeout=300) == 0
    leaders = [s["NAME"] for s in zone(lab)["SERVER_POOL"]["SERVER"] if s["STATE"] == "3"]
    assert leaders == ["fe2"]
    assert_healthy_at(lab, "7.0", ids, enabled)


def test_a_hypervisor_down_in_step_9_fails_naming_it_and_lf_finishes(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=3, latencies={"onezone show": 0.3})
    ids, enabled = state_before(lab)
    with runbook_in_background(lab, report_dir) as proc:
        wait_for_step(report_dir, "test_08", "running")
        lab.stop_node("hv2")
        assert proc.wait(timeout=300) == 1
    steps = journal_steps(report_dir)
    failed = [sid for sid, e in steps.items() if e["outcome"] == "failed"]
    assert any("test_09" in sid for sid in failed), failed
    assert package_version(lab, "hv1", "opennebula-node-kvm").startswith("7.0.")
    assert package_version(lab, "hv3", "opennebula-node-kvm").startswith("7.0.")
    lab.start_node("hv2")
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    touched = {r["node"] for r in resumed.commands(mutating=True) if r["node"].startswith("hv")}
    assert touched == {"hv2"}
    assert_healthy_at(lab, "7.0", ids, enabled)


@pytest.mark.parametrize(
    ("signum", "said"),
    [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")],
    ids=["int", "term"],
)
def test_ctrl_c_or_sigterm_stops_writes_report_and_journal_and_lf_continues(
    make_lab: LabFactory, report_dir: Path, signum: signal.Signals, said: str
) -> None:
    # (the followers' package upgrade is what keeps step 5 busy)
    lab = make_lab(frontends=3, hypervisors=1, latencies={"apt-get install": 3.0})
    ids, enabled = state_before(lab)
    with runbook_in_background(lab, report_dir) as proc:
        wait_for_step(report_dir, "test_05", "running")
        time.sleep(0.5)
        interrupted_at = time.time()
        os.killpg(proc.pid, signum)
        proc.wait(timeout=120)
    steps = journal_steps(report_dir)
    interrupted = [sid for sid, e in steps.items() if e["outcome"] == "interrupted"]
    assert any("test_05" in sid for sid in interrupted), steps
    reports = list(report_dir.glob("*/*.html"))
    assert reports, "no report was written"
    # the interrupted step has its row, saying so, with the commands it had run
    rows = {r["testId"]: r for rs in read_report(reports[0])["tests"].values() for r in rs}
    row = rows[UPGRADE_FOLLOWERS]
    assert row["result"] == "Failed"
    assert f"interrupted ({said}) during its call" in row["log"]
    extras = " ".join(e["content"] for e in row["extras"])
    shown = {(n, html.unescape(c)) for n, c in re.findall(r"<code>(fe\d)\$ (.*?)</code>", extras)}
    log = reports[0].with_suffix(".jsonl").read_text().splitlines()
    audited = {
        (r["node"], r["command"])
        for r in map(json.loads, log)
        if r["kind"] == "command" and "test_every_follower_is_upgraded" in r["step"]
    }
    assert shown, extras[-2000:]
    assert shown <= audited, shown - audited
    # no command started after Ctrl-C (the followers' work stopped), and none was lost
    commands = [r for r in map(json.loads, log) if r["kind"] == "command"]
    late = [(r["node"], r["command"]) for r in commands if r["started"] > interrupted_at + 0.5]
    assert late == [], late
    assert len(shown) == len(audited)
    time.sleep(4)  # the followers' interrupted upgrade finishes on the nodes
    resumed = run_runbook(lab, report_dir, "--lf")
    assert resumed.returncode == 0, resumed.output
    assert_healthy_at(lab, "7.0", ids, enabled)
    assert sh(lab, "fe1", "echo ok").strip() == "ok"


def test_a_second_run_against_the_same_cluster_is_refused_while_one_runs(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"onedb upgrade": 3.0})
    ids, enabled = state_before(lab)
    with runbook_in_background(lab, report_dir) as proc:
        wait_for_step(report_dir, "test_04", "running")
        files = set(report_dir.glob("*/*"))
        second = run_runbook(lab, report_dir)
        # the running campaign's own step 4 keeps its copies beside, in <cluster>.backups
        created = {p for p in set(report_dir.glob("*/*")) - files
                   if not p.parent.name.endswith(".backups")}  # fmt: skip
        assert proc.wait(timeout=120) == 0
    assert second.returncode == 4, second.output
    assert "another run against cluster" in second.output
    assert "Traceback" not in second.output
    assert created == set()  # no report claimed, no audit log
    assert_healthy_at(lab, "7.0", ids, enabled)

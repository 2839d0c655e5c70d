"""The HTML audit report and the JSONL audit log of real runs, read as the operator reads them.

Two labs, each upgraded once by the real runbook in a subprocess (module-scoped):

- `upgraded`: a repository token planted in every node's repository URL; the
  upgrade completes. Rows, environment, summary, downtime against the audit log,
  the token nowhere, the log's chain and head, and the page rendered by Chromium.
- `stopped`: an injected `apt-get install` failure (exit 100) on follower fe2 stops
  the run at step 5; the inventory's `redact:` hides the fault's marker text, which
  reaches the failure message through the failing command's stderr. Then `--lf`
  resumes and completes.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from onelab import Lab
from onelab.invoke import ROOT, runbook_argv
from oneupgrade.audit.verify import verify_log
from oneupgrade.plugin.report import read_report
from tests.conftest import lab_unavailable
from tests.e2e.runner import Run, run_runbook, sh

pytestmark = [pytest.mark.e2e, pytest.mark.lab]

TOKEN = "s3cr3t-token"
MARKER = "simulated fault"  # the lab's fault text, hidden by the `redact:` pattern
REPO = "/etc/apt/sources.list.d/opennebula.list"


@dataclass
class Reported:
    lab_names: list[str]
    run: Run
    data: dict[str, Any]  # the report's data-jsonblob

    @property
    def html(self) -> Path:
        assert self.run.html is not None, self.run.output
        return self.run.html

    def rows(self) -> dict[str, dict[str, Any]]:
        """test id (with ::setup/::teardown for those rows) -> row data."""
        found = {}
        for entries in self.data["tests"].values():
            for row in entries:
                found[row["testId"]] = row
        return found

    def cells(self, test_id: str) -> list[str]:
        row = self.rows()[test_id]["resultsTableRow"]
        return [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in row]


def _collected(inventory: Path) -> list[str]:
    out = subprocess.run(
        runbook_argv(inventory, "--collect-only", "-q", "-p", "no:randomly"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [line for line in out.splitlines() if line.startswith("runbook/")]


def _report(lab: Lab, run: Run) -> Reported:
    assert run.html is not None, run.output
    return Reported(lab.names, run, read_report(run.html))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def upgraded(workdir: Path) -> Iterator[tuple[Reported, list[str]]]:
    with Lab.up(workdir / "lab", frontends=3, hypervisors=2, version="6.10") as lab:
        for node in lab.names:
            sh(lab, node, f"sed -i 's#https://downloads#https://user:{TOKEN}@downloads#' {REPO}")
            assert TOKEN in sh(lab, node, f"cat {REPO}")
        collected = _collected(lab.inventory_path)
        run = run_runbook(lab, workdir / "reports")
        assert run.returncode == 0, run.output
        yield _report(lab, run), collected


@pytest.fixture(scope="module")
def stopped(workdir: Path) -> Iterator[tuple[Reported, Reported]]:
    with Lab.up(workdir / "lab2", frontends=3, hypervisors=1, version="6.10") as lab:
        data = yaml.safe_load(lab.inventory_path.read_text())
        data["redact"] = [MARKER]
        inventory = lab.dir / "redacting.yml"
        inventory.write_text(yaml.safe_dump(data))
        lab.fault("fe2", "apt-get install", times=1, action="exit", exit_code=100)
        reports = workdir / "reports2"
        first = run_runbook(lab, reports, inventory=inventory)
        assert first.returncode == 1, first.output
        resumed = run_runbook(lab, reports, "--lf", inventory=inventory)
        assert resumed.returncode == 0, resumed.output
        yield _report(lab, first), _report(lab, resumed)


# -- a completed upgrade ---------------------------------------------------------------


def test_every_step_and_node_has_a_passed_row_with_its_commands(
    upgraded: tuple[Reported, list[str]],
) -> None:
    rep, collected = upgraded
    rows = rep.rows()
    assert collected
    assert set(collected) <= set(rows), set(collected) - set(rows)
    assert all(rows[t]["result"] == "Passed" for t in collected)
    # per-node rows name their node; cluster-wide rows the nodes they touched
    assert rep.cells("runbook/test_00_preflight.py::test_there_is_room_for_the_backups[fe2]")[
        2
    ] == ("fe2")
    stop = (
        "runbook/test_03_stop_ha_cluster.py::test_followers_are_stopped_first_and_the_leader_last"
    )
    assert rep.cells(stop)[2] == "cluster (fe1, fe2, fe3)"
    # expanding a row: every command of the step on that node, with status and output
    extras = " ".join(
        e["content"]
        for e in rows[
            "runbook/test_03_stop_ha_cluster.py::test_no_opennebula_unit_is_left_running[fe2]"
        ]["extras"]
    )
    assert "fe2$ systemctl stop" in extras
    assert "fe2$ systemctl list-units | grep opennebula" in extras
    assert "exit 0" in extras
    assert "fe1$" not in extras
    # the commands in the rows are the audit log's, in order
    audit = [
        r["command"]
        for r in rep.run.commands()
        if r["node"] == "fe2" and r["step"].startswith("03")
    ]
    shown = re.findall(r"<code>fe2\$ (.*?)</code>", extras)
    assert [c for c in shown if c in audit] == [c for c in audit if c in shown]


def test_environment_names_cluster_operator_releases_inventory_and_the_log_head(
    upgraded: tuple[Reported, list[str]],
) -> None:
    rep, _ = upgraded
    env = rep.data["environment"]
    inventory = yaml.safe_load(Path(env["Inventory"]).read_text())
    assert env["Cluster"] == inventory["cluster"]
    assert env["Zone"] == "0"
    assert env["Operator"]
    assert env["Controller"]
    assert env["Mode"] == "upgrade"
    assert env["Releases"].startswith("6.10.5 -&gt; 7.0")
    assert re.fullmatch(r"[0-9a-f]{64}", env["Inventory sha256"])
    assert env["Started"] < env["Ended"]
    assert env["Resumed from"].startswith("no")
    assert env["Audit log"] == rep.html.with_suffix(".jsonl").name
    assert rep.data["title"].startswith("oneupgrade ")
    assert "6.10.5 -> 7.0" in rep.data["title"]


def test_summary_shows_versions_roles_hosts_backups_and_downtime_as_the_log_has_them(
    upgraded: tuple[Reported, list[str]],
) -> None:
    rep, _ = upgraded
    page = rep.html.read_text()
    summary = next(r for r in rep.run.audit if r["kind"] == "summary")
    for node in summary["nodes"]:
        assert node["release_before"] == "6.10.5", node
        assert node["release_after"].startswith("7.0."), node
        if node["role"] == "frontend":
            assert node["raft_before"] in ("leader", "follower")
            assert node["raft_after"] in ("leader", "follower")
        assert f"<td>{node['name']}</td><td>{node['role']}</td><td>6.10.5</td>" in page
    assert sorted(n["raft_after"] for n in summary["nodes"] if n["raft_after"]) == [
        "follower",
        "follower",
        "leader",
    ]
    assert {h["name"]: h["enabled_again"] for h in summary["hosts"]} == {"hv1": "yes", "hv2": "yes"}
    backups = {(b["node"], b["kind"]) for b in summary["backups"]}
    assert ("fe1", "database (replication)") in backups
    assert {("fe1", "configuration"), ("fe2", "configuration"), ("fe3", "configuration")} <= backups
    for b in summary["backups"]:
        assert b["path"] in page
    # downtime: from the first executed `systemctl stop` of step 3 ...
    dt = summary["downtime"]
    stops = [
        c
        for c in rep.run.commands(mutating=True)
        if c["step"].startswith("03") and c["command"].startswith("systemctl stop")
    ]
    assert stops
    assert dt["start"] <= stops[0]["started"] < dt["start"] + 1.0
    # ... to the `onezone show` of step 8 that found the zone healthy (the last before
    # oned.log is read: the write probe after it reads the zone too)
    step8 = [c for c in rep.run.commands() if c["step"].startswith("08")]
    log = next(i for i, c in enumerate(step8) if c["command"].startswith("tail -n"))
    probes = [c for c in step8[:log] if "onezone show" in c["command"]]
    last = probes[-1]
    assert (
        last["started"] + last["duration"] <= dt["end"] < last["started"] + last["duration"] + 1.0
    )
    assert all(c["started"] < dt["end"] for c in rep.run.commands() if c["step"].startswith("07"))
    assert abs(dt["seconds"] - (dt["end"] - dt["start"])) < 1e-6
    assert 'id="ou-downtime"' in page
    assert "first unit stopped in step 3" in page


def test_no_secret_in_any_file_of_the_report_dir_or_the_output(
    upgraded: tuple[Reported, list[str]],
) -> None:
    rep, _ = upgraded
    files = [p for p in rep.run.report_dir.rglob("*") if p.is_file()]
    assert rep.html in files
    assert rep.html.with_suffix(".jsonl") in files
    for path in files:
        assert TOKEN not in path.read_text(errors="replace"), path
    assert TOKEN not in rep.run.output
    # the repository file did pass through the log, masked
    cats = [c for c in rep.run.commands() if c["command"] == f"cat -- {REPO}"]
    assert cats
    assert all("https://********@downloads" in c["stdout"] for c in cats)


def test_the_log_verifies_against_the_reports_head_and_an_edit_is_detected(
    upgraded: tuple[Reported, list[str]], tmp_path: Path
) -> None:
    rep, _ = upgraded
    log = rep.html.with_suffix(".jsonl")
    head = rep.data["environment"]["Audit log head"]
    assert verify_log(log, head=head) == []

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oneupgrade.audit", "verify", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = verify("--report", str(rep.html))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ends at the recorded head" in ok.stdout
    # one edited line: the chain breaks
    lines = log.read_text().splitlines(keepends=True)
    copy = tmp_path / log.name
    i = next(n for n, line in enumerate(lines) if n > 10 and '"exit_status":0' in line)
    edited = [
        *lines[:i],
        lines[i].replace('"exit_status":0', '"exit_status":1', 1),
        *lines[i + 1 :],
    ]
    copy.write_text("".join(edited))
    bad = verify(str(copy))
    assert bad.returncode == 1, bad.stdout
    assert f"line {i + 2}: chain broken" in bad.stdout, bad.stdout
    # the last line cut off: the chain alone is intact, the report's head is not
    copy.write_text("".join(lines[:-1]))
    assert verify(str(copy)).returncode == 0
    shutil.copy(rep.html, tmp_path / rep.html.name)
    cut = verify("--report", str(tmp_path / rep.html.name))
    assert cut.returncode == 1, cut.stdout
    assert "not the head the run recorded" in cut.stdout, cut.stdout
    assert verify("--head", head, str(copy)).returncode == 1


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make system-packages)")
def test_the_report_renders_in_chromium_without_javascript_errors(
    upgraded: tuple[Reported, list[str]], tmp_path: Path
) -> None:
    rep, collected = upgraded
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            rep.html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    # the rows were built by the page's script from the JSON blob
    assert len(re.findall(r'<tbody class="results-table-row', dom)) >= len(collected)
    for test_id in collected:
        assert f'id="{test_id}"' in dom, test_id
    assert "ou-command" in dom  # the commands in the expanded rows
    assert 'id="oneupgrade-summary"' in dom
    assert "Audit log head" in dom
    # the timeline: bars on every node's lane, step 9 on each hypervisor, the outage band
    assert 'id="ou-timeline"' in dom
    for name in rep.lab_names:
        assert re.search(rf'class="ou-bar ou-passed" data-node="{name}" data-step="0"', dom), name
        if name.startswith("hv"):
            assert f'data-node="{name}" data-step="9"' in dom, name
    assert dom.count('class="ou-outage"') == 1


# -- a run stopped by a failure, then resumed ------------------------------------------

UPGRADE_FOLLOWERS = "runbook/test_05_upgrade_the_followers.py::test_every_follower_is_upgraded"


def test_a_failed_step_shows_the_failing_command_and_its_stderr(
    stopped: tuple[Reported, Reported],
) -> None:
    first, _ = stopped
    rows = first.rows()
    row = rows[UPGRADE_FOLLOWERS]
    assert row["result"] == "Failed"
    cells = first.cells(UPGRADE_FOLLOWERS)
    assert "failed on 1 node(s): fe2" in cells[4], cells
    assert "exited 100" in cells[4], cells
    extras = " ".join(e["content"] for e in row["extras"])
    failing = re.search(r"<code>fe2\$ [^<]*apt-get[^<]*install[^<]*</code><div>exit 100", extras)
    assert failing, extras[-3000:]
    # its stderr (the fault's text, masked by the inventory's `redact:` pattern)
    assert "<b>stderr</b><pre>********: apt-get install" in extras[failing.start() :]
    # on the timeline, fe2's step 5 bar is the failed one
    page = first.html.read_text()
    assert re.findall(r'class="ou-bar ou-failed" data-node="([^"]+)" data-step="(\d+)"', page) == [
        ("fe2", "5")
    ]
    audit = [c for c in first.run.commands() if c["exit_status"] == 100]
    assert [c["node"] for c in audit] == ["fe2"]
    assert audit[0]["stderr"].startswith("********: apt-get install")
    # the failure text (traceback-free) is in the row's log, redacted
    assert "exited 100" in row["log"]
    assert MARKER not in row["log"]


def test_the_steps_after_the_failure_are_skipped_naming_it(
    stopped: tuple[Reported, Reported],
) -> None:
    first, _ = stopped
    rows = first.rows()
    later = [t for t in rows if re.match(r"runbook/test_0[6-9]", t)]
    assert later
    for test_id in later:
        assert rows[test_id]["result"] == "Skipped", test_id
        reason = first.cells(test_id)[4]
        assert reason.startswith("not run: step 5 'Upgrade OpenNebula in the Followers' failed")
    assert all(rows[t]["result"] == "Passed" for t in rows if re.match(r"runbook/test_0[0-4]", t))


def test_a_stopped_run_summarises_what_is_known(stopped: tuple[Reported, Reported]) -> None:
    first, _ = stopped
    summary = next(r for r in first.run.audit if r["kind"] == "summary")
    assert summary["stopped"].startswith("step 5")
    assert summary["downtime"]["start"] is not None
    assert summary["downtime"]["end"] is None
    assert all(n["release_before"] == "6.10.5" for n in summary["nodes"])
    page = first.html.read_text()
    assert "STOPPED: step 5" in page
    assert "has NOT ended" in page
    assert "was not asked for its state after it" in page
    assert first.data["environment"]["Outcome"].startswith("STOPPED: step 5")


def test_the_redacted_text_is_nowhere_and_the_resumed_run_names_the_first(
    stopped: tuple[Reported, Reported],
) -> None:
    first, resumed = stopped
    for path in first.run.report_dir.rglob("*"):
        if path.is_file():
            assert MARKER not in path.read_text(errors="replace"), path
    assert MARKER not in first.run.output
    assert MARKER not in resumed.run.output
    assert "********" in first.run.output  # the terminal's failure text, masked
    env = resumed.data["environment"]
    assert first.data["environment"]["Run"] in env["Resumed from"]
    assert env["Campaign"] == first.data["environment"]["Campaign"]
    assert resumed.html != first.html
    summary = next(r for r in resumed.run.audit if r["kind"] == "summary")
    assert summary["stopped"] is None
    assert summary["downtime"]["seconds"] > 0
    assert all(n["release_after"].startswith("7.0.") for n in summary["nodes"])
    assert "Steps satisfied by earlier runs" in resumed.html.read_text()

"""Speed at scale (issue #7), on a 3 + 4 lab: one SSH connection per node for the whole
run, and the packages downloaded before the control plane stops, so that the installs
of steps 4, 5 and 9 fetch nothing. Judged on the audit log, never on wall-clock time."""

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LabFactory
from tests.e2e.runner import run_runbook

DOWNLOAD_ONLY = "--download-only"


def _installs(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for c in commands
        if "apt-get install --only-upgrade" in c["command"] and c["exit_status"] == 0
    ]


def test_one_connection_per_node_and_downloads_before_the_stop(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=4, version="6.10", os="debian12")
    run = run_runbook(lab, report_dir, "--forks", "3")
    assert run.returncode == 0, run.output

    connections = [r for r in run.audit if r.get("kind") == "connections"]
    assert len(connections) == 1, connections
    assert connections[0]["opened"] == connections[0]["nodes"] == len(lab.names), connections[0]

    commands = run.commands()
    first_stop = next(
        i for i, c in enumerate(commands) if c["command"].startswith("systemctl stop")
    )
    downloads = [(i, c) for i, c in enumerate(commands) if DOWNLOAD_ONLY in c["command"]]
    assert {c["node"] for _, c in downloads} == set(lab.names), downloads
    assert all(i < first_stop for i, _ in downloads), "a download ran after the first stop"
    for _, c in downloads:
        assert c["step"].startswith("03:"), c["step"]
        assert "Download complete and in download only mode" in c["stdout"], c["stdout"]

    installs = [c for c in _installs(commands) if DOWNLOAD_ONLY not in c["command"]]
    assert {c["node"] for c in installs} == set(lab.names)
    for c in installs:
        # apt's own words for a transaction whose archives are all in its cache
        assert "Need to get 0 B/" in c["stdout"], f"{c['node']} {c['step']}: {c['stdout']}"
        assert "Fetched" not in c["stdout"], c["stdout"]
    # the refresh happened once per node, before the stop: the installs only install
    updates = [c for c in commands if c["command"].startswith("apt-get update")]
    assert sorted(c["node"] for c in updates) == sorted(lab.names), updates

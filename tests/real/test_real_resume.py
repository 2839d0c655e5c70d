"""The controller SIGKILLed while step 5 upgrades the followers' packages, on real apt and
dpkg, then `--lf` from a second controller (a report directory that never saw the
campaign) finishing a healthy 7.0 zone.

Killing the controller drops its SSH sessions; a package transaction run as a plain
channel command would die with its pipe half way through dpkg, leaving the followers'
`opennebula` half-installed with the control plane down. The runbook runs package
transactions detached (transport/detach.py): they finish on the node, and the next run
waits for them and reads how they ended.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from onelab import Lab
from tests.e2e.runner import Run, changes_in_steps, run_runbook, sh, start_runbook, wait_for_step
from tests.real.test_real_upgrade import FRONTENDS, HYPERVISORS, assert_in_sync

pytestmark = [pytest.mark.real, pytest.mark.lab]


@dataclass
class Killed:
    lab: Lab
    killed_during: str  # the package command that ran on a follower when the kill came
    resumed: Run


def _follower_apt(lab: Lab) -> str | None:
    """An `apt-get install` of OpenNebula's packages running now on fe2 or fe3 (in that
    node's own mount namespace: the nodes share one process list)."""
    mine = (
        "me=$(readlink /proc/self/ns/mnt); for p in $(pgrep -f '^apt-get install'); do "
        '[ "$(readlink /proc/$p/ns/mnt)" = "$me" ] && '
        'echo "$p $(tr "\\0" " " </proc/$p/cmdline)"; done; true'
    )
    for node in ("fe2", "fe3"):
        _, out, _ = lab.run(node, mine)
        for line in out.splitlines():
            if "opennebula" in line:
                return f"{node}: {line.split(' ', 1)[1]}"
    return None


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Killed]:
    base = tmp_path_factory.mktemp("real-resume")
    lab = Lab.up(base / "lab", 3, 2, "6.10", opennebula="real")
    try:
        proc = start_runbook(lab, base / "first")
        try:
            wait_for_step(base / "first", "test_05", "running", limit=900)
            seen = None
            deadline = time.monotonic() + 120
            while seen is None and time.monotonic() < deadline and proc.poll() is None:
                seen = _follower_apt(lab)
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert seen is not None, "the followers' package upgrade was never seen running"
        resumed = run_runbook(lab, base / "second", "--lf", timeout=1800)
        yield Killed(lab, seen, resumed)
    finally:
        lab.down()


def test_lf_from_a_second_controller_finishes_after_a_kill_in_step_5(killed: Killed) -> None:
    lab, run = killed.lab, killed.resumed
    assert run.returncode == 0, run.output[-6000:]
    assert "campaign journal taken from the cluster" in run.output
    assert changes_in_steps(run, range(5)) == []
    for node in FRONTENDS:
        assert sh(lab, node, "dpkg --audit").strip() == "", node  # no broken transaction
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula") == "7.0.2-1", node
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", sh(lab, node, "onedb version"), re.M)
        assert versions == [("Shared", "7.0.0"), ("Local", "7.0.0")], (node, versions)
    assert {s["NAME"] for s in assert_in_sync(lab)} == set(FRONTENDS)
    for node in HYPERVISORS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula-node-kvm") == "7.0.2-1"


def test_the_killed_runs_package_command_ran_to_its_end_on_the_node(killed: Killed) -> None:
    node = killed.killed_during.split(":", 1)[0]
    # the second run found the first one's job there and said how it ended (a step note)
    notes = [str(r.get("text")) for r in killed.resumed.audit if r.get("kind") == "note"]
    said = rf"{node}: .*an earlier run's `.*apt-get install.*` ended on the node \(exit 0\)"
    assert any(re.search(said, n) for n in notes), notes
    # and did not install again what that job installed
    again = [r for r in killed.resumed.commands(mutating=True)
             if r["node"] == node and "apt-get install" in r["command"]]  # fmt: skip
    assert again == [], again

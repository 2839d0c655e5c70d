"""The benchmark's critical-path model (bench.critical_path) on a hand-made audit log: it follows
the work's dependencies (a hypervisor's step 9 waits for its own background download),
not the order the runbook ran the commands in."""

from __future__ import annotations

from typing import Any

from bench.critical_path import critical_path, schedule
from onelab.sim import pool

LATENCIES = {"apt-get download": 6.0, "apt-get install": 4.0, "systemctl stop": 1.0}
FETCHED = "Need to get 12.3 MB of archives.\nDownload complete and in download only mode"
INSTALLED = "Need to get 0 B/12.3 MB of archives.\nUnpacking opennebula-node-kvm (7.0.2-1)"
DOWNLOAD = "03:test_packages_are_downloaded_while_opennebula_still_runs"
UPGRADE = "09:test_every_hypervisor_is_upgraded_and_enabled_again"
STOP = "03:test_followers_are_stopped_first_and_the_leader_last"
ROLES = {"fe1": "frontend", "hv1": "hypervisor", "hv2": "hypervisor"}
GET = "apt-get install --download-only -y"


def _command(step: str, node: str, command: str, stdout: str = "") -> dict[str, Any]:
    return {"kind": "command", "step": step, "node": node, "command": command,
            "stdout": stdout, "started": 0.0, "duration": 0.0}  # fmt: skip


AUDIT = [
    _command(DOWNLOAD, "fe1", f"{GET} opennebula", FETCHED),
    _command(DOWNLOAD, "hv1", f"{GET} opennebula-node-kvm", FETCHED),
    _command(DOWNLOAD, "hv2", f"{GET} opennebula-node-kvm", FETCHED),
    _command(STOP, "fe1", "systemctl stop opennebula"),
    _command(UPGRADE, "hv1", "apt-get install --only-upgrade -y opennebula-node-kvm", INSTALLED),
    _command(UPGRADE, "hv2", "apt-get install --only-upgrade -y opennebula-node-kvm", INSTALLED),
]  # fmt: skip


def _total(forks: int) -> float:
    costs = critical_path(AUDIT, LATENCIES, ["fe1", "hv1", "hv2"], ROLES, "fe1", forks)
    return sum(c.critical for c in costs)


def test_list_scheduling_honours_when_each_chain_is_ready() -> None:
    assert schedule([("a", 4.0, 0.0), ("b", 4.0, 0.0), ("c", 1.0, 0.0)], 2) == {
        "a": 4.0, "b": 4.0, "c": 5.0}  # fmt: skip
    assert schedule([("a", 4.0, 5.0), ("b", 4.0, 11.0)], 1) == {"a": 9.0, "b": 15.0}


def test_background_downloads_cost_step_3_nothing_and_delay_only_their_own_hypervisor() -> None:
    # forks 2: step 3 is fe1's download (6); the hypervisors' downloads run from 6 to 12
    # while the stop (1) goes on; step 9 starts at 7 and waits for them: 5 + 4 = 9
    assert _total(2) == 6 + 1 + 9 + pool.INIT_WINDOW
    # forks 1: hv1's download ends at 12, hv2's at 18; step 9 (from 7): hv1 from 5 to 9,
    # hv2 from 11 (its download) to 15
    assert _total(1) == 6 + 1 + 15 + pool.INIT_WINDOW


def test_overlapped_followers_run_with_the_leader_and_their_replication_waits_for_them() -> None:
    leader, backup = "04:test_the_leader_is_upgraded", "04:test_the_upgraded_database_is_backed_up"
    replicate = "06:test_every_follower_has_the_leaders_database_and_configuration"
    roles = {"fe1": "frontend", "fe2": "frontend", "fe3": "frontend"}
    audit = [
        _command(leader, "fe1", "onedb upgrade -v"),
        _command(leader, "fe2", "apt-get install --only-upgrade -y opennebula", INSTALLED),
        _command(leader, "fe3", "apt-get install --only-upgrade -y opennebula", INSTALLED),
        _command(backup, "fe1", "onedb backup /b.sql"),
        _command(replicate, "fe2", "onedb restore -f /b.sql"),
        _command(replicate, "fe3", "onedb restore -f /b.sql"),
    ]
    latencies = {
        "onedb upgrade": 3.0,
        "onedb backup": 1.0,
        "onedb restore": 1.5,
        "apt-get install": 4.0,
    }
    costs = critical_path(audit, latencies, ["fe1", "fe2", "fe3"], roles, "fe1", 2)
    # the leader's 3 + its backup 1; the followers' installs (4) from 0 end at 4: step 6
    # starts when they end (no wait: 4 = 3 + 1), then restores both at once (1.5)
    assert [round(c.critical, 2) for c in costs] == [3.0, 1.0, 1.5]
    slower = {**latencies, "apt-get install": 6.0}  # ends at 6: step 6 waits 2 s
    costs = critical_path(audit, slower, ["fe1", "fe2", "fe3"], roles, "fe1", 2)
    assert [round(c.critical, 2) for c in costs] == [3.0, 1.0, 3.5]

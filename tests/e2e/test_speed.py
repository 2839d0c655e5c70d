"""Speed at scale, on small labs: one SSH connection per node for the whole run; the
front-ends' packages downloaded before the control plane stops and the hypervisors'
in the background while it is down, so that the installs of steps 4, 5 and 9 fetch
nothing; the order constraints of that plan. Judged on the audit log's order and
timestamps, never on wall-clock targets."""

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LabFactory
from tests.e2e.runner import assert_healthy_at, package_version, run_runbook, state_before

DOWNLOAD_ONLY = "--download-only"
BACKUPS = "/var/lib/one/backups/oneupgrade"


def _installs(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in commands if "apt-get install" in c["command"] and c["exit_status"] == 0]


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
    fronts = [i for i, c in downloads if c["node"].startswith("fe")]
    assert all(i < first_stop for i in fronts), "a front-end downloaded after the first stop"
    for _, c in downloads:
        assert c["step"].startswith("03:"), c["step"]
        assert "Download complete and in download only mode" in c["stdout"], c["stdout"]

    installs = [c for c in _installs(commands) if DOWNLOAD_ONLY not in c["command"]]
    assert {c["node"] for c in installs} == set(lab.names)
    for c in installs:
        # apt's own words for a transaction whose archives are all in its cache
        assert "Need to get 0 B/" in c["stdout"], f"{c['node']} {c['step']}: {c['stdout']}"
        assert "Fetched" not in c["stdout"], c["stdout"]
    # a front-end's upgrade and the onedb migrators 6.10 lacks: one apt transaction,
    # whose single dpkg run is all the package work inside the outage
    by_front = {c["node"]: c for c in installs if c["node"].startswith("fe")}
    assert sorted(c["node"] for c in installs if c["node"].startswith("fe")) == sorted(by_front)
    assert len(by_front) == 3, by_front
    for c in by_front.values():
        assert "opennebula-migration" in c["command"], c["command"]
        assert "Setting up opennebula (7.0" in c["stdout"], c["stdout"]
        assert "Setting up opennebula-migration" in c["stdout"], c["stdout"]
    # the refresh happened once per node, before the stop: the installs only install
    updates = [c for c in commands if c["command"].startswith("apt-get update")]
    assert sorted(c["node"] for c in updates) == sorted(lab.names), updates


def test_hypervisor_downloads_go_on_in_the_background_while_the_control_plane_is_down(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=2, latencies={"apt-get download": 2.0})
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    commands = run.commands()
    stop = min(c["started"] for c in commands if c["command"].startswith("systemctl stop"))
    health = max(
        r["started"] + r["duration"]
        for r in run.audit
        if r.get("kind") == "step" and str(r.get("step", "")).startswith("runbook/test_08")
    )
    for hv in ("hv1", "hv2"):
        (download,) = [c for c in commands if c["node"] == hv and DOWNLOAD_ONLY in c["command"]]
        assert download["step"].startswith("03:"), download["step"]  # step 3's work...
        ends = download["started"] + download["duration"]
        assert ends > stop, "...that went on while the control plane stopped"
        (install,) = [
            c for c in _installs(commands) if c["node"] == hv and DOWNLOAD_ONLY not in c["command"]
        ]
        assert install["step"].startswith("09:"), install["step"]  # installed in step 9 only
        assert install["started"] >= ends, "installed before its download ended"
        assert "Need to get 0 B/" in install["stdout"], install["stdout"]
    # no host enabled before the zone was healthy again (step 8)
    enabled = [c for c in commands if c["command"].startswith("onehost enable")]
    assert enabled
    assert all(c["started"] >= health for c in enabled), (health, enabled)


def test_a_failed_background_download_fails_only_its_hypervisor(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=2, hypervisors=2)
    lab.fault("hv2", "apt-get download", times=None, exit_code=100)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1, run.output
    assert "failed on 1 node(s): hv2" in run.output
    assert "its package download, started in step 3" in run.output
    assert package_version(lab, "hv1", "opennebula-node-kvm").startswith("7.0.")
    assert package_version(lab, "hv2", "opennebula-node-kvm").startswith("6.10.")
    assert package_version(lab, "fe2", "opennebula").startswith("7.0.")  # the control plane
    lab.clear_faults()
    again = run_runbook(lab, report_dir, "--lf")
    assert again.returncode == 0, again.output
    assert package_version(lab, "hv2", "opennebula-node-kvm").startswith("7.0.")


def test_the_followers_are_backed_up_during_the_leaders_upgrade(
    make_lab: LabFactory, report_dir: Path
) -> None:
    # (the leader's package install lasts long enough to see what runs during it)
    lab = make_lab(frontends=3, hypervisors=1, latencies={"apt-get install": 2.0})
    ids, enabled = state_before(lab)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)
    commands = run.commands()

    def dump(node: str) -> dict[str, Any]:
        (found,) = [
            c
            for c in commands
            if c["node"] == node and c["command"].startswith(f"onedb backup {BACKUPS}/pre-upgrade-")
        ]
        return found

    (migrate,) = [c for c in commands if c["command"].startswith("onedb upgrade")]
    assert migrate["node"] == "fe1"
    leaders = dump("fe1")
    for follower in ("fe2", "fe3"):
        # after the leader's own (a failed one touches no follower), during its upgrade
        assert dump(follower)["started"] >= leaders["started"] + leaders["duration"]
        assert dump(follower)["started"] < migrate["started"]
        (install,) = [
            c
            for c in _installs(commands)
            if c["node"] == follower and DOWNLOAD_ONLY not in c["command"]
        ]
        # its packages in step 5 only, once the leader's database is upgraded
        assert install["step"].startswith("05:"), install["step"]
        assert install["started"] >= migrate["started"] + migrate["duration"]


def test_overlap_followers_upgrades_them_during_the_leaders_database_work(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, latencies={"onedb upgrade": 2.0})
    ids, enabled = state_before(lab)
    run = run_runbook(lab, report_dir, "--overlap-followers")
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)
    commands = run.commands()
    (migrate,) = [c for c in commands if c["command"].startswith("onedb upgrade")]
    assert migrate["node"] == "fe1"  # the leader's alone: the followers' is step 6's
    ends = migrate["started"] + migrate["duration"]
    for follower in ("fe2", "fe3"):
        (install,) = [
            c
            for c in _installs(commands)
            if c["node"] == follower and DOWNLOAD_ONLY not in c["command"]
        ]
        assert install["started"] < ends, "not during the leader's onedb upgrade"
    # replaced in step 6 by the leader's database, as without the option
    restores = {c["node"] for c in commands if c["command"].startswith("onedb restore")}
    assert restores == {"fe2", "fe3"}

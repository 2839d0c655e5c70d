"""Preflight refuses before any change; step 1 waits for transient VMs, then names them."""

import hashlib
import json
import stat
import time
from pathlib import Path
from typing import Any

import yaml

from onelab import Lab
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    Run,
    finished_run,
    package_version,
    run_runbook,
    sh,
    start_runbook,
    zone,
)


def _inventory(lab: Lab, name: str, **changes: Any) -> Path:
    data = yaml.safe_load(lab.inventory_path.read_text())
    data.update(changes)
    path = lab.dir / name
    path.write_text(yaml.safe_dump(data))
    return path


def _refused_before_any_change(run: Run, *words: str) -> None:
    assert run.returncode == 1, run.output
    assert run.commands(mutating=True) == []
    for word in words:
        assert word in run.output, run.output


def test_refusals_before_any_change(make_lab: LabFactory, report_dir: Path) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    # a target older than what runs
    older = _inventory(lab, "older.yml", target="6.8")
    _refused_before_any_change(run_runbook(lab, report_dir, inventory=older), "older than")
    # a zone server missing from the inventory
    data = yaml.safe_load(lab.inventory_path.read_text())
    partial = _inventory(lab, "partial.yml", frontends=data["frontends"][:2])
    _refused_before_any_change(
        run_runbook(lab, report_dir, inventory=partial), "is not a front-end of the inventory"
    )
    # an unreachable node
    lab.stop_node("hv1")
    _refused_before_any_change(run_runbook(lab, report_dir), "hv1", "cannot")
    lab.start_node("hv1")
    # front-ends on different releases
    sh(lab, "fe2", "sed -i 's#/repo/6.10/#/repo/7.0/#' /etc/apt/sources.list.d/opennebula.list")
    sh(
        lab,
        "fe2",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "-o Dpkg::Options::=--force-confold --only-upgrade opennebula",
    )
    _refused_before_any_change(run_runbook(lab, report_dir), "different releases")


def test_step_1_waits_for_a_vm_in_migrate_then_proceeds(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="6.10")
    lab.hold_vm(0, "MIGRATE", 300.0)
    before = set(report_dir.glob("*/*.jsonl"))
    proc = start_runbook(lab, report_dir, "--vm-timeout", "120")
    try:
        # step 1 has found the VM migrating (however long preflight took): it ends now
        deadline = time.monotonic() + 120
        while not _step_1_polls(report_dir):
            assert proc.poll() is None, "the run ended before step 1 read the VMs"
            assert time.monotonic() < deadline, "step 1 never read the VMs"
            time.sleep(0.2)
        lab.hold_vm(0, "MIGRATE", 0.0)
        returncode = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = finished_run(report_dir, before, returncode)
    assert run.returncode == 0, run.output
    polls = [c for c in run.commands() if c["command"].startswith("onevm list")]
    assert len(polls) >= 2, "step 1 did not wait"


def _step_1_polls(report_dir: Path) -> int:
    """The `onevm list` commands step 1 has logged so far in the running audit log."""
    found = 0
    for log in report_dir.glob("*/*.jsonl"):
        for line in log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line being written
                continue
            command, step = str(record.get("command", "")), str(record.get("step", ""))
            found += step.startswith("01") and command.startswith("onevm list")
    return found


def test_step_1_fails_naming_the_vm_when_the_hold_outlasts_the_deadline(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="6.10")
    lab.hold_vm(0, "MIGRATE", 120.0)
    run = run_runbook(lab, report_dir, "--vm-timeout", "3")
    assert run.returncode == 1
    assert "VM 0" in run.output
    assert "MIGRATE" in run.output
    assert run.commands(mutating=True) == []


def test_a_busy_zone_is_in_sync_and_a_stalled_follower_is_refused(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    # The leader commits all the time: no reading shows the followers' COMMIT equal to
    # the leader's, yet they follow it a heartbeat behind. The upgrade goes through.
    lab.busy_zone()
    readings = [zone(lab)["SERVER_POOL"]["SERVER"] for _ in range(3)]
    assert any(len({s["COMMIT"] for s in servers}) > 1 for servers in readings)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert package_version(lab, "fe2", "opennebula").startswith("7.0")
    # A follower that no longer applies the log: refused, naming it, before any change.
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    lab.busy_zone()
    lab.stall_follower("fe3")
    _refused_before_any_change(run_runbook(lab, report_dir), "(fe3) commit", "not in sync")


def test_a_node_on_an_os_the_target_dropped_is_refused(
    make_lab: LabFactory, report_dir: Path
) -> None:
    # 7.2's Platform Notes list Debian 12 and 13: a Debian 11 cluster may go to 7.0 only
    lab = make_lab(frontends=1, hypervisors=1, version="6.10", os="debian11")
    newer = _inventory(lab, "to-7.2.yml", target="7.2")
    _refused_before_any_change(
        run_runbook(lab, report_dir, inventory=newer),
        "fe1: Debian GNU/Linux 11 (bullseye) is not a platform of OpenNebula 7.2 for front-ends",
        "hv1: Debian GNU/Linux 11 (bullseye) is not a platform of OpenNebula 7.2 for KVM nodes",
    )
    run = run_runbook(lab, report_dir)  # the inventory's target: 7.0
    assert run.returncode == 0, run.output
    assert package_version(lab, "hv1", "opennebula-node-kvm").startswith("7.0")


def test_a_known_issue_of_the_target_is_refused_with_the_docs_remedy(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    views = "/etc/one/sunstone-views.yaml"
    # 6.10's own sunstone-views.yaml has an empty `default:` under labels_groups
    assert "labels_groups:\n    default:\n" in sh(lab, "fe2", f"cat {views}")
    exact = _inventory(lab, "to-7.0.0.yml", target="7.0.0")
    _refused_before_any_change(
        run_runbook(lab, report_dir, inventory=exact),
        "onedb upgrade -v of 7.0.0",
        "choose 7.0.1 or newer",
        f"an empty value under labels_groups in {views}: fe2: {views}:",
        "default: []",
    )
    # 7.0.1 and later migrate that file: the series target goes on, and the packages
    # 7.0 no longer ships are named without stopping the upgrade
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    checked = [n for n in notes if n.startswith("known issues checked:")]
    assert checked, notes
    assert "labels_groups" not in checked[0], notes
    assert "hosts on drivers that 7.0 removed" in checked[0], notes
    gone = [n for n in notes if n.startswith("known issue, not blocking")]
    assert any("fe1: opennebula-sunstone 6.10." in n for n in gone), notes


def test_an_unclean_onecfg_state_is_refused_before_the_stop(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="7.0", os="alma9")
    state = sh(lab, "fe3", "cat /etc/onecfg.conf")
    # a configuration upgrade skipped in an earlier OpenNebula upgrade
    sh(lab, "fe3", "printf -- '---\\nversion: 6.10.0\\noutdated: true\\n' > /etc/onecfg.conf")
    _refused_before_any_change(
        run_runbook(lab, report_dir),
        "fe3: onecfg status: ERROR: Configurations metadata are outdated.",
        "onecfg init --force",
    )
    # pending updates of an earlier upgrade, never processed
    sh(lab, "fe3", "printf -- '---\\nversion: 6.10.0\\n' > /etc/onecfg.conf")
    _refused_before_any_change(
        run_runbook(lab, report_dir),
        "fe3: onecfg status: configuration updates of an earlier upgrade are still pending",
        "pending (- from 6.10.0 to ",
    )
    # the doc's remedy, then the upgrade goes on; onecfg's state is in step 4's backups
    sh(lab, "fe3", "onecfg init --force")
    assert "version: 7.0" in sh(lab, "fe3", "cat /etc/onecfg.conf")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert package_version(lab, "fe3", "opennebula").startswith("7.2")
    for node in ("fe1", "fe2", "fe3"):
        assert "version: 7.2" in sh(lab, node, "cat /etc/onecfg.conf")
        saved = sh(lab, node, "cat /etc/onecfg.conf.*")
        assert "version: 7.0" in saved, f"{node}: {saved}"
    assert state.startswith("---\nversion: 7.0")


def test_a_zone_in_a_federation_is_refused_with_the_federation_page(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    conf = "/etc/one/oned.conf"
    before = {n: sh(lab, n, f"cat {conf}") for n in ("fe1", "fe2", "fe3")}
    for node in before:
        sh(lab, node, f'sed -i \'s/MODE          = "STANDALONE"/MODE = "SLAVE"/\' {conf}')
    _refused_before_any_change(
        run_runbook(lab, report_dir),
        "fe1: oned.conf FEDERATION MODE = SLAVE",
        "fe3: oned.conf FEDERATION MODE = SLAVE",
        "onedb restore -v --federated",
        "Upgrading Federated Instances",
    )
    for node, text in before.items():
        assert 'MODE          = "STANDALONE"' in text
        sh(lab, node, f'sed -i \'s/MODE = "SLAVE"/MODE          = "STANDALONE"/\' {conf}')
        assert sh(lab, node, f"cat {conf}") == text
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output


def test_what_7_0_removed_is_refused_naming_the_hosts_and_networks(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    lab.add_network("prod", "802.1Q")
    legacy = lab.add_network("legacy", "ebtables")
    _refused_before_any_change(
        run_runbook(lab, report_dir),
        f"networks on the ebtables driver that 7.0 removed: network legacy ({legacy}): "
        "VN_MAD ebtables",
        "before upgrading",
    )
    sh(lab, "fe1", f"onevnet delete {legacy}")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert "prod" in sh(lab, "fe2", "onevnet list")


def test_custom_probes_are_found_kept_and_listed(make_lab: LabFactory, report_dir: Path) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="6.10")
    probe = "/var/lib/one/remotes/im/kvm-probes.d/host/monitor/gpu_usage.rb"
    sh(lab, "fe1", f"mkdir -p {probe.rsplit('/', 1)[0]} && echo 'puts 1' > {probe}")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    assert any(n.startswith(f"fe1: custom monitoring probes {probe}: update") for n in notes)
    kept = sh(lab, "fe1", "ls /var/lib/one/backups/oneupgrade/custom-probes-fe1-*.tar").strip()
    assert probe.lstrip("/") in sh(lab, "fe1", f"tar -tf {kept}")
    assert run.html is not None
    assert kept in run.html.read_text()
    assert sh(lab, "fe1", f"cat {probe}") == "puts 1\n"


def test_a_series_target_whose_repository_serves_a_doomed_release_stops_before_the_stop(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1, version="6.10")
    # a mirror that never took 7.0.1 and 7.0.2: the series target 7.0 would install 7.0.0
    lab.withhold_releases(["7.0.1", "7.0.2"])
    run = run_runbook(lab, report_dir)
    assert run.returncode == 1, run.output
    for node in ("fe1", "fe2", "fe3"):
        assert f"{node}: the repository" not in run.output  # one release on all of them
    assert "the repository would install 7.0.0: onedb upgrade -v of 7.0.0" in run.output
    assert "choose 7.0.1 or newer" in run.output
    # step 2 disabled the hosts and step 3 downloaded: nothing stopped, nothing installed
    steps = {str(c["step"]).split(":")[0] for c in run.commands(mutating=True)}
    assert steps == {"02", "03"}, steps
    assert not [c for c in run.commands(mutating=True) if "systemctl stop" in c["command"]]
    for node in ("fe1", "fe2", "fe3"):
        assert package_version(lab, node, "opennebula").startswith("6.10."), node
        assert sh(lab, node, "systemctl is-active opennebula").strip() == "active", node
    # the mirror catches up: the same campaign goes on and installs 7.0.2
    lab.withhold_releases([])
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    notes = [r.get("text", "") for r in run.audit if r.get("kind") == "note"]
    assert "the front-ends' repositories offer opennebula 7.0.2-1" in notes, notes
    assert package_version(lab, "fe2", "opennebula").startswith("7.0.2")


def test_the_backups_are_kept_apart_from_the_reports_where_backup_dir_says(
    make_lab: LabFactory, report_dir: Path, tmp_path: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=1)
    cluster = yaml.safe_load(lab.inventory_path.read_text())["cluster"]
    # inside the report directory (what an operator hands on): refused before anything
    inside = run_runbook(lab, report_dir, "--backup-dir", str(report_dir / cluster / "vault"))
    assert inside.returncode == 4, inside.output
    assert "is inside the report directory" in inside.output
    assert "Traceback" not in inside.output
    assert inside.audit == []
    vault = tmp_path / "vault"
    run = run_runbook(lab, report_dir, "--backup-dir", str(vault))
    assert run.returncode == 0, run.output[-4000:]
    assert not (report_dir / f"{cluster}.backups").exists()
    assert stat.S_IMODE(vault.stat().st_mode) == 0o700
    for node in ("fe1", "fe2", "fe3"):
        (dump,) = (vault / node).glob(f"pre-upgrade-{node}-*.sql")
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        assert stat.S_IMODE(dump.parent.stat().st_mode) == 0o700
        (tar,) = (vault / node).glob("configuration-one.*.tar")
        assert run.html is not None
        page = run.html.read_text()
        for copy in (dump, tar):  # the report names each copy by path, size and sha256
            digest = hashlib.sha256(copy.read_bytes()).hexdigest()
            assert f"<td>{copy}</td><td>{copy.stat().st_size}</td><td>{digest}</td>" in page
    kept = [p for p in report_dir.rglob("*") if p.is_file() and vault not in p.parents]
    assert not [p for p in kept if p.suffix in (".sql", ".tar")], kept

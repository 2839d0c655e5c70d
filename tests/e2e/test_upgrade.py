"""The whole upgrade, end to end, on labs of several shapes; then a rerun that changes nothing."""

import hashlib
import os
import stat
import tarfile
from pathlib import Path

from tests.e2e.conftest import LabFactory
from tests.e2e.runner import Run, assert_healthy_at, hosts, run_runbook, sh, state_before, zone


def test_debian12_6_10_to_7_0_then_a_rerun_changes_nothing(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=3, hypervisors=2, version="6.10", os="debian12")
    os.umask(0o022)  # the usual umask: the report files' modes must not follow it
    # An operator had disabled hv2 before the upgrade: it must stay disabled.
    hv2 = next(h for h in hosts(lab) if h["NAME"] == "hv2")
    sh(lab, "fe1", f"onehost disable {hv2['ID']}")
    ids, enabled = state_before(lab)
    assert enabled == {"hv1"}
    leader = next(s["NAME"] for s in zone(lab)["SERVER_POOL"]["SERVER"] if s["STATE"] == "3")

    first = run_runbook(lab, report_dir)
    assert first.returncode == 0, first.output
    assert_healthy_at(lab, "7.0", ids, enabled)
    # The doc's order, though the followers stop and start together: every follower
    # stopped before the leader's stop begins, the leader started before any follower.
    followers = sorted({"fe1", "fe2", "fe3"} - {leader})
    for node in followers:
        assert _span(first, node, "stop")[1] <= _span(first, leader, "stop")[0]
        assert _span(first, leader, "start")[1] <= _span(first, node, "start")[0]
    # The Sunstone labels procedure: onecfg upgrade deleted sunstone-views.yaml, the
    # step-4 copy went back before the leader's onedb upgrade and was deleted after it.
    # The followers' databases are replaced by the leader's in step 6: neither migrated
    # nor checked there, and the report says why.
    views = "/etc/one/sunstone-views.yaml"
    for node in ("fe1", "fe2", "fe3"):
        work = [r["command"] for r in first.commands(mutating=True) if r["node"] == node]
        if node == leader:
            put_back = next(i for i, c in enumerate(work) if c.startswith("cp -p") and views in c)
            upgrade = next(i for i, c in enumerate(work) if c.startswith("onedb upgrade"))
            deleted = next(i for i, c in enumerate(work) if c == f"rm -f {views}")
            assert put_back < upgrade < deleted, work
        else:
            assert not [c for c in work if c.startswith(("onedb upgrade", "onedb fsck"))], work
            assert any(c.startswith("onedb restore -f") for c in work), work
        assert "labels_groups" in sh(lab, node, "cat /etc/one.*/sunstone-views.yaml")
        assert sh(lab, node, f"test -e {views} && echo present || echo absent").strip() == "absent"
    notes = [r.get("text", "") for r in first.audit if r.get("kind") == "note"]
    for node in followers:
        assert any(
            n.startswith(f"{node}: ")
            and n.endswith("skipped: replaced by the leader's database in step 6")
            for n in notes
        ), notes
    # Step 4's backups survive the node: copies on the controller, checked, 0600, reported.
    (store,) = report_dir.glob("*.backups")  # beside the report directory, not in it
    assert not list(report_dir.glob("*/backups"))
    assert first.html is not None
    report = first.html.read_text()
    for node in ("fe1", "fe2", "fe3"):
        (dump,) = (store / node).glob(f"pre-upgrade-{node}-*.sql")
        on_node = sh(lab, node, f"sha256sum /var/lib/one/backups/oneupgrade/{dump.name}")
        assert hashlib.sha256(dump.read_bytes()).hexdigest() == on_node.split()[0]
        (tar,) = (store / node).glob("configuration-one.*.tar")
        with tarfile.open(tar) as archive:
            names = archive.getnames()
        assert any(n.endswith("/oned.conf") and n.startswith("etc/one.") for n in names)
        assert any(n.startswith("var/lib/one/remotes/etc.") for n in names)
        assert any(n.startswith("etc/onecfg.conf.") for n in names)
        for path in (dump, tar):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert str(path) in report
        assert stat.S_IMODE((store / node).stat().st_mode) == 0o700
    # Everything the run wrote is the operator's alone, whatever the umask (022 here).
    reports = store.with_name(store.name.removesuffix(".backups"))  # reports/<cluster>
    written = [d for top in (reports, store) for d in (top, *top.rglob("*"))]
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in written}
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o700 if Path(p).is_dir() else 0o600)}
    assert wrong == {}, wrong
    suffixes = {".html", ".jsonl", ".json", ".lock", ".sql", ".head", ".sig"}
    assert {Path(p).suffix for p in modes} >= suffixes

    again = run_runbook(lab, report_dir)
    assert again.returncode == 0, again.output
    changing = again.commands(mutating=True)
    assert changing == [], [c["command"] for c in changing]
    assert_healthy_at(lab, "7.0", ids, enabled)

    # From another controller (no journal at all): the facts come from the cluster.
    elsewhere = report_dir.parent / "other-controller"
    elsewhere.mkdir()
    fresh = run_runbook(lab, elsewhere)
    assert fresh.returncode == 0, fresh.output
    changing = fresh.commands(mutating=True)
    assert changing == [], [c["command"] for c in changing]
    assert_healthy_at(lab, "7.0", ids, enabled)

    # A journal that cannot be read is refused, untouched, before any command.
    journal = next(report_dir.glob("*/journal.json"))
    journal.write_text(journal.read_text()[:-40])
    broken = journal.read_text()
    refused = run_runbook(lab, report_dir, "--lf")
    assert refused.returncode == 4, refused.output
    assert f"the campaign journal {journal} cannot be read (not valid JSON" in refused.output
    assert "--new-campaign" in refused.output
    assert "Traceback" not in refused.output
    assert refused.audit == []
    assert journal.read_text() == broken
    renewed = run_runbook(lab, report_dir, "--new-campaign")
    assert renewed.returncode == 0, renewed.output
    assert "the unreadable journal was set aside as" in renewed.output
    assert [p.read_text() for p in journal.parent.glob("journal.unreadable-*.json")] == [broken]
    assert renewed.commands(mutating=True) == []


def _span(run: Run, node: str, verb: str) -> tuple[float, float]:
    """When `node`'s `systemctl <verb>` of OpenNebula's units started and ended."""
    (c,) = [
        c
        for c in run.commands(mutating=True)
        if c["node"] == node
        and c["command"].startswith(f"systemctl {verb} ")
        and "opennebula.service" in c["command"]
    ]
    return float(c["started"]), float(c["started"]) + float(c["duration"])


def test_alma9_7_0_to_7_2(make_lab: LabFactory, report_dir: Path) -> None:
    lab = make_lab(frontends=3, hypervisors=2, version="7.0", os="alma9")
    ids, enabled = state_before(lab)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.2", ids, enabled)
    assert any("dnf" in c["command"] for c in run.commands(mutating=True))


def test_a_single_front_end_zone(make_lab: LabFactory, report_dir: Path) -> None:
    lab = make_lab(frontends=1, hypervisors=1, version="6.10", os="ubuntu24.04")
    ids, enabled = state_before(lab)
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)

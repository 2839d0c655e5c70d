"""oned's start checks, onedb, and what raft shows after right and wrong upgrades."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import pytest

from onelab.sim import raft
from onelab.sim.fakeroot import FakeCluster as FakeLab


def servers(lab: FakeLab, on: str = "fe0") -> list[dict[str, Any]]:
    doc = json.loads(lab.ok(on, "onezone", "show", "0", "-j").out)
    result = doc["ZONE"]["SERVER_POOL"]["SERVER"]
    assert isinstance(result, list)
    return result


def backup_of(lab: FakeLab, name: str) -> str:
    # an explicit name: default names collide within one second (as in real onedb)
    out = lab.ok(name, "onedb", "backup", "/var/lib/one/for-followers.sql").out
    return out.splitlines()[0].removeprefix("MySQL dump stored in ")


def copy(lab: FakeLab, src: str, path: str, dst: str, to: str) -> None:
    target = lab.root(dst) / to.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(lab.root(src) / path.lstrip("/"), target)


def test_oned_refuses_old_schema(lab: FakeLab) -> None:
    lab.stop_all("fe0")
    lab.upgrade_packages("fe0")
    r = lab.run("fe0", "systemctl", "start", "opennebula")
    assert r.rc == 1
    assert r.err.startswith("Job for opennebula.service failed because the control process")
    log = (lab.root("fe0") / "var/log/one/oned.log").read_text()
    assert (
        "Database version mismatch ( local_db_versioning). Installed OpenNebula 7.0.2 "
        "needs DB version '7.0.0', and existing DB version is '6.10.0'."
    ) in log
    r = lab.run("fe0", "systemctl", "is-active", "opennebula")
    assert (r.rc, r.out) == (3, "failed\n")
    r = lab.run("fe0", "onedb", "fsck")
    assert r.rc == 255
    assert r.err == (
        "Version mismatch: fsck file is for version\nShared: 7.0.0, Local: 7.0.0\n\n"
        "Current database is version\nShared: 6.10.0, Local: 6.10.0\n"
    )
    r = lab.run("fe0", "onedb", "version")
    assert r.rc == 2
    assert "Update required. Expected DB version is:" in r.out


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_oned_refuses_unowned_etc_one(lab: FakeLab) -> None:
    lab.ok("fe1", "systemctl", "stop", "opennebula")
    os.chown(lab.root("fe1") / "etc/one/monitord.conf", 0, 0)
    assert lab.run("fe1", "systemctl", "start", "opennebula").rc == 1
    assert "monitord.conf" in (lab.root("fe1") / "var/log/one/oned.log").read_text()
    os.chown(lab.root("fe1") / "etc/one/monitord.conf", 9869, 9869)
    lab.ok("fe1", "systemctl", "start", "opennebula")


def test_onedb_refusals(lab: FakeLab) -> None:
    # as onedb.rb does: the file first, then the lock of a running oned
    r = lab.run("fe1", "onedb", "restore", "-f", "/tmp/x.sql")
    assert (r.rc, r.err) == (255, "File /tmp/x.sql doesn't exist, backup restoration aborted.\n")
    (lab.root("fe1") / "tmp").mkdir(exist_ok=True)
    (lab.root("fe1") / "tmp/x.sql").write_text("-- not a dump\n")
    r = lab.run("fe1", "onedb", "restore", "-f", "/tmp/x.sql")
    assert (r.rc, r.err) == (255, "First stop OpenNebula. Lock file found: /var/lock/one/one\n")
    lab.ok("fe1", "systemctl", "restart", "opennebula")
    r = lab.run("fe1", "onedb", "upgrade", "-v")
    assert r.err == "First stop OpenNebula. Lock file found: /var/lock/one/one\n"
    lab.ok("fe1", "onedb", "backup", "/var/lib/one/b.sql")
    r = lab.run("fe1", "onedb", "backup", "/var/lib/one/b.sql")
    assert r.err == "File /var/lib/one/b.sql exists, backup aborted. Use -f to overwrite.\n"
    lab.ok("fe1", "onedb", "backup", "-f", "/var/lib/one/b.sql")
    lab.ok("fe1", "systemctl", "stop", "opennebula")
    r = lab.run("fe1", "onedb", "restore", "/var/lib/one/b.sql")
    assert r.err == "MySQL database opennebula at localhost exists, use -f to overwrite.\n"
    r = lab.run("fe1", "onedb", "restore", "-f", "/var/lib/one/nope.sql")
    assert r.err == "File /var/lib/one/nope.sql doesn't exist, backup restoration aborted.\n"
    path = lab.root("fe1") / "var/lib/one/b.sql"
    path.write_text(path.read_text().replace('"index":42', '"index":41'))
    before = lab.ok("fe1", "onedb", "version").out
    r = lab.run("fe1", "onedb", "restore", "-f", "/var/lib/one/b.sql")
    assert (r.rc, r.err) == (255, "Error while restoring MySQL DB opennebula at localhost.\n")
    assert lab.ok("fe1", "onedb", "version").out == before
    assert lab.ok("fe1", "onedb", "upgrade").out == "Database schema is up to date.\n"


def test_backup_default_name_and_content(lab: FakeLab) -> None:
    out = lab.ok("fe0", "onedb", "backup").out.splitlines()
    assert out[1:] == [
        "Use 'onedb restore' or restore the DB using the mysql command:",
        "mysql -u user -h server -P port db_name < backup_file",
        "",
    ]
    name = out[0].removeprefix("MySQL dump stored in ")
    assert name.startswith("/var/lib/one/mysql_localhost_opennebula_")
    assert name.endswith(".sql")
    assert "-0" not in name.rsplit("_", 1)[0].rsplit("opennebula_", 1)[1]
    text = (lab.root("fe0") / name.lstrip("/")).read_text()
    assert text.startswith("-- MySQL dump")


def _upgrade_leader(lab: FakeLab) -> tuple[str, str]:
    for n in ("fe2", "fe1", "fe0"):
        lab.stop_all(n)
    lab.upgrade_packages("fe0")
    lab.ok("fe0", "onecfg", "upgrade")
    st = lab.status()
    old = st["nodes"]["fe0"]["db"]["lineage"]
    out = lab.ok("fe0", "onedb", "upgrade", "-v").out
    # a file of its own: the default one is named to the second, like the upgrade's
    lab.ok("fe0", "onedb", "fsck", "-b", "/var/lib/one/fsck.sql")
    return old, out


def test_upgrade_output_and_new_lineage(lab: FakeLab) -> None:
    old, out = _upgrade_leader(lab)
    lines = out.splitlines()
    assert lines[:4] == [
        "Version read:",
        "Shared tables 6.10.0 : OpenNebula 6.10.5 daemon bootstrap",
        "Local tables  6.10.0 : OpenNebula 6.10.5 daemon bootstrap",
        "",
    ]
    assert lines[4].startswith("MySQL dump stored in /var/lib/one/mysql_localhost_opennebula_")
    assert ">>> Running migrators for shared tables" in lines
    assert "  > Running migrator /usr/lib/one/ruby/onedb/local/6.10.0_to_7.0.0.rb" in lines
    assert "Database migrated from 6.10.0 to 7.0.0 (OpenNebula 7.0.2) by onedb command." in lines
    assert lines[-1] == "Total time: 0.12s"
    st = lab.status()
    assert st["nodes"]["fe0"]["db"]["lineage"] != old
    assert st["nodes"]["fe0"]["db"]["schema"] == {"shared": "7.0.0", "local": "7.0.0"}
    assert lab.ok("fe0", "onedb", "upgrade", "-v").out == "Database schema is up to date.\n"
    assert lab.ok("fe0", "onedb", "version").out.endswith("Required local version:  7.0.0\n")


def test_followers_in_sync_after_restore(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raft, "SYNC_LAG", 0.0)
    _upgrade_leader(lab)
    dump = backup_of(lab, "fe0")
    for f in ("fe1", "fe2"):
        lab.upgrade_packages(f)
        copy(lab, "fe0", dump, f, "/tmp/leader.sql")
        r = lab.ok(f, "onedb", "restore", "-f", "/tmp/leader.sql")
        assert r.out == "MySQL DB opennebula at localhost restored.\n"
    for n in ("fe0", "fe1", "fe2"):
        lab.ok(n, "systemctl", "start", "opennebula")
    rows = servers(lab, "fe2")
    assert [r["STATE"] for r in rows] == ["3", "2", "2"]
    assert len({r["TERM"] for r in rows}) == 1
    assert len({r["COMMIT"] for r in rows}) == 1


def test_follower_that_upgraded_its_own_in_sync_db_still_syncs(
    lab: FakeLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real OpenNebula tolerates it: the follower was in sync when it stopped, and the
    # same migrators turned its copy of the history into the leader's.
    monkeypatch.setattr(raft, "SYNC_LAG", 0.0)
    _upgrade_leader(lab)
    dump = backup_of(lab, "fe0")
    lab.upgrade_packages("fe1")
    copy(lab, "fe0", dump, "fe1", "/tmp/leader.sql")
    lab.ok("fe1", "onedb", "restore", "-f", "/tmp/leader.sql")
    lab.upgrade_packages("fe2")
    lab.ok("fe2", "onedb", "upgrade")  # not the doc's way: its own copy of the history
    for n in ("fe0", "fe1", "fe2"):
        lab.ok(n, "systemctl", "start", "opennebula")
    lab.ok("fe0", "onezone", "disable", "0")
    lab.ok("fe0", "onezone", "enable", "0")
    rows = servers(lab)
    assert [r["STATE"] for r in rows] == ["3", "2", "2"]
    assert rows[1]["COMMIT"] == rows[0]["COMMIT"] == rows[2]["COMMIT"]


def test_duplicated_server_id_breaks_the_table(lab: FakeLab) -> None:
    lab.ok("fe1", "systemctl", "stop", "opennebula")
    conf = lab.root("fe1") / "etc/one/oned.conf"
    conf.write_text(conf.read_text().replace("SERVER_ID     = 1,", "SERVER_ID     = 0,"))
    lab.ok("fe1", "systemctl", "start", "opennebula")
    rows = servers(lab, "fe2")
    states = [r["STATE"] for r in rows]
    assert "3" not in states
    assert states[0] == states[1] == "1"
    assert rows[0]["TERM"] != rows[1]["TERM"]
    r = lab.run("fe2", "onehost", "disable", "0")
    assert r.err == "[one.host.status] Cannot process request, oned cluster in election mode\n"


def test_leadership_moves_when_the_leader_stops(lab: FakeLab) -> None:
    lab.ok("fe0", "systemctl", "stop", "opennebula")
    rows = servers(lab, "fe1")
    assert [r["STATE"] for r in rows] == ["-", "3", "2"]
    assert rows[1]["TERM"] == "2"
    lab.ok("fe0", "systemctl", "start", "opennebula")
    assert [r["STATE"] for r in servers(lab, "fe1")] == ["2", "3", "2"]


def test_upgrade_without_the_migrators_fails_as_onedb_does_and_keeps_the_database(
    lab: FakeLab,
) -> None:
    # 6.10 Community Edition: no migration package; `--only-upgrade` does not install one
    assert "opennebula-migration" not in lab.ok("fe0", "dpkg-query", "-W", "opennebula*").out
    lab.stop_all("fe0")
    lab.switch_repo("fe0", "7.0")
    lab.ok("fe0", "apt-get", "update")
    lab.ok("fe0", "apt-get", "install", "-y", "-o", "Dpkg::Options::=--force-confold",
           "--only-upgrade", "opennebula", "opennebula-migration")  # fmt: skip
    before = lab.status()["nodes"]["fe0"]["db"]
    failed = lab.run("fe0", "onedb", "upgrade", "-v")
    assert failed.rc == 255
    assert "Database already uses version 6.10.0" in failed.out
    assert failed.err.startswith(
        "ERROR: Database upgrade to the latest versions (local 6.10.0, shared 6.10.0)\n"
        "wasn't successful due to missing migration descriptors."
    )
    assert failed.out.splitlines()[-2:] == [
        "The database will be restored",
        "MySQL DB opennebula at localhost restored.",
    ]
    assert lab.status()["nodes"]["fe0"]["db"] == before
    lab.ok("fe0", "apt-get", "install", "-y", "opennebula-migration")
    again = lab.ok("fe0", "onedb", "upgrade", "-v", "-b", "/var/lib/one/second.sql").out
    assert "Database migrated from 6.10.0" in again


def test_fsck_never_backs_up_over_a_file(lab: FakeLab) -> None:
    lab.stop_all("fe0")
    lab.ok("fe0", "onedb", "backup", "/var/lib/one/taken.sql")
    refused = lab.run("fe0", "onedb", "fsck", "-b", "/var/lib/one/taken.sql")
    assert (refused.rc, refused.err) == (
        255,
        "File /var/lib/one/taken.sql exists, backup aborted. Use -f to overwrite.\n",
    )


def test_fsck_dry_prints_its_total_and_backs_nothing_up(lab: FakeLab) -> None:
    out = lab.ok("fe0", "onedb", "fsck", "--dry").out
    assert out.splitlines()[-4:] == [
        "Total errors found: 0",
        "Total repairable errors: 0",
        "Total unrepairable errors: 0",
        "Dry run, no changes have been written to the DB",
    ]
    assert not list((lab.root("fe0") / "var/lib/one").glob("*.sql"))

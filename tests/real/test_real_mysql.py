"""The runbook on a real zone whose front-ends keep OpenNebula's database in MariaDB.

One 3+2 lab (`up --opennebula real --db mysql`), changed in order: the upgrade to 7.0 fails in step
6 (a follower's `onedb restore` exits 255 once), `--lf` from a second controller (a report
directory that never saw the campaign) completes it from the journal the first left on the
front-ends, the zone is read with OpenNebula's and MariaDB's own commands, and `pytest
rollback/` brings back a healthy 6.10.5 zone, which the documented 6.10 -> 7.2 (`--target
7.2`) then upgrades to the end. The database password must be in no report,
audit log, journal or terminal line, and on no command line the runbook wrote; a process
list shows it only in what onedb itself runs (mysqldump and mysql, through a shell), as the
report says.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from onelab import Lab
from oneupgrade.opennebula import database
from tests.e2e.runner import CmdlineWatch, Run, changes_in_steps, run_runbook, server_ids, sh
from tests.real.test_real_upgrade import (
    FRONTENDS,
    HYPERVISORS,
    _listed,
    _vms,
    assert_healthy_at,
    assert_in_sync,
    assert_rolled_back,
    roll_back,
)

pytestmark = [pytest.mark.real, pytest.mark.lab, pytest.mark.mariadb]

# What onedb runs with the password on its command line (src/onedb/onedb_backend.rb):
# `mysqldump|mysql -u USER -p'PASSWORD' ...` through /bin/sh.
ONEDB_CHILDREN = ("mysqldump", "mysql", "mariadb-dump", "mariadb")


def _tables(lab: Lab, node: str) -> int:
    # as root over the node's socket: OpenNebula's tables in its own MariaDB
    out = sh(lab, node, "mariadb -N -e \"SELECT COUNT(*) FROM information_schema.tables "
                        "WHERE table_schema = 'opennebula'\"")  # fmt: skip
    return int(out.strip())


def _tar_text(path: Path) -> bytes:
    """Every member's bytes of the tar at `path`, one after another."""
    with tarfile.open(path) as archive:
        return b"".join(
            f.read() for m in archive.getmembers() if m.isfile() and (f := archive.extractfile(m))
        )


def _password(lab: Lab) -> str:
    db = database.section(sh(lab, "fe1", "cat /etc/one/oned.conf"))
    assert db.mysql, db.backend
    assert len(db.passwd) >= 16
    return db.passwd


@dataclass
class Campaign:
    lab: Lab
    reports: Path
    second: Path  # the second controller's report directory
    secret: str
    ids_before: dict[str, str]
    vms_before: set[str]
    failed: Run
    resumed: Run
    seen_in_ps: set[tuple[str, ...]] = field(default_factory=set)


@pytest.fixture(scope="module")
def campaign(real_mysql_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    lab = real_mysql_lab
    reports = tmp_path_factory.mktemp("real-mysql-reports")
    second = tmp_path_factory.mktemp("real-mysql-second-controller")
    try:
        secret = _password(lab)
        ids, vms = server_ids(lab), {v["ID"] for v in _vms(lab)}
        with CmdlineWatch(secret) as watch:
            lab.fault("fe3", "onedb restore", times=1, action="exit", exit_code=255)
            failed = run_runbook(lab, reports, timeout=1800)
            lab.clear_faults()
            resumed = run_runbook(lab, second, "--lf", timeout=1800)
        yield Campaign(lab, reports, second, secret, ids, vms, failed, resumed, watch.argvs)
    finally:
        lab.down()  # the lab is this module's to end (see conftest)


def test_each_front_end_keeps_the_zone_in_its_own_mariadb(real_mysql_lab: Lab) -> None:
    assert_each_front_end_on_its_own_mariadb(real_mysql_lab, FRONTENDS, "6.10.0")


def assert_each_front_end_on_its_own_mariadb(
    lab: Lab, frontends: tuple[str, ...], db_version: str
) -> None:
    for node in frontends:
        db = database.section(sh(lab, node, "cat /etc/one/oned.conf"))
        address = lab.address(node)
        # its own server (see lab/real/mariadb.py: not localhost, the nodes share 127.0.0.1)
        assert (db.backend, db.server, db.port, db.user, db.name) == (
            "mysql", address, 3306, "oneadmin", "opennebula",
        ), node  # fmt: skip
        listening = sh(lab, node, "ss -Hltn 'sport = :3306'")
        assert f"{address}:3306" in listening, (node, listening)
        assert _tables(lab, node) > 10, node
        rc, _, _ = lab.run(node, "test -e /var/lib/one/one.db")
        assert rc != 0, f"{node}: an SQLite database besides MariaDB"
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", sh(lab, node, "onedb version"), re.M)
        assert versions == [("Shared", db_version), ("Local", db_version)], (node, versions)
    assert lab.status()["db"] == "mysql"


def test_a_failed_restore_stops_step_6_and_lf_completes(campaign: Campaign) -> None:
    failed, resumed = campaign.failed, campaign.resumed
    assert failed.returncode == 1, failed.output[-4000:]
    assert "step 6" in failed.output, failed.output[-4000:]
    assert "fe3" in failed.output, failed.output[-4000:]
    assert resumed.returncode == 0, resumed.output[-6000:]
    assert "campaign journal taken from the cluster" in resumed.output
    redone = [r["node"] for r in resumed.commands(mutating=True) if "onedb restore" in r["command"]]
    assert redone == ["fe3"]
    # nothing of steps 0 to 5 done again from the second controller
    assert changes_in_steps(resumed, range(6)) == []
    # the dumps are MySQL dumps of the zone's database, restored where step 6 copied them
    dumps = [r for r in failed.audit if "onedb backup" in str(r.get("command"))]
    assert dumps, "no onedb backup in the audit log"
    assert any("MySQL dump stored in" in str(r.get("stdout")) for r in dumps), dumps[-1]


def test_every_front_end_runs_7_0_on_its_own_upgraded_mariadb(campaign: Campaign) -> None:
    lab = campaign.lab
    for node in FRONTENDS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula") == "7.0.2-1", node
        versions = re.findall(r"^(Shared|Local):\s+(\S+)", sh(lab, node, "onedb version"), re.M)
        assert versions == [("Shared", "7.0.0"), ("Local", "7.0.0")], (node, versions)
        assert _tables(lab, node) > 10, node
    assert server_ids(lab) == campaign.ids_before
    assert {s["NAME"] for s in assert_in_sync(lab)} == set(FRONTENDS)
    pool = _listed(json.loads(sh(lab, "fe1", "onehost list -j")), "HOST_POOL", "HOST")
    assert {h["NAME"]: h["STATE"] for h in pool} == dict.fromkeys(HYPERVISORS, "2")
    vms = _vms(lab)
    assert {v["ID"] for v in vms} == campaign.vms_before
    assert {(v["STATE"], v["LCM_STATE"]) for v in vms} == {("3", "3")}


def test_the_password_is_in_no_record_and_on_no_command_line_of_the_runbook(
    campaign: Campaign,
) -> None:
    secret = campaign.secret
    for run in (campaign.failed, campaign.resumed):
        assert secret not in run.output
    # every file the runs wrote in the report directories: the step-4 copies of /etc/one
    # (oned.conf holds it) and the dumps are kept apart, in reports/<cluster>.backups
    kept = [d for base in (campaign.reports, campaign.second) for d in base.glob("*.backups")]
    assert kept, "no backup directory beside the reports"
    held = [p for d in kept for p in d.rglob("*") if p.is_file()]
    assert any(secret.encode() in _tar_text(p) for p in held if p.suffix == ".tar")
    for path in held:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for d in kept:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    written = [
        p
        for base in (campaign.reports, campaign.second)
        for d in base.iterdir()
        if d.is_dir() and not d.name.endswith(".backups")
        for p in d.rglob("*")
        if p.is_file()
    ]
    assert any(p.suffix == ".html" for p in written)
    assert any(p.suffix == ".jsonl" for p in written)
    assert any(p.name == "journal.json" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    # the report says what onedb does with it
    html = campaign.failed.html
    assert html is not None
    assert "a process list on that front-end shows it to any local user" in html.read_text()
    # in the process list: only onedb's own mysqldump/mysql (and the shell running them)
    for argv in campaign.seen_in_ps:
        line = " ".join(argv)
        assert not line.startswith(("onedb", "/usr/bin/ruby", "ruby")), line
        first = argv[-1] if argv[0].endswith("sh") and len(argv) >= 3 else argv[0]
        assert os.path.basename(first.split()[0]) in ONEDB_CHILDREN, line


def test_the_upgrade_is_rolled_back_to_6_10_5_on_mariadb(campaign: Campaign) -> None:
    lab = campaign.lab
    run = roll_back(lab, campaign.second)
    assert campaign.secret not in run.output
    assert_rolled_back(lab, campaign.ids_before, campaign.vms_before, HYPERVISORS)
    for node in FRONTENDS:
        assert _tables(lab, node) > 10, node


def test_the_rolled_back_zone_is_upgraded_from_6_10_to_7_2_on_mariadb(campaign: Campaign) -> None:
    lab = campaign.lab
    run = run_runbook(lab, campaign.second, "--target", "7.2", timeout=1800)
    assert run.returncode == 0, run.output[-6000:]
    assert campaign.secret not in run.output
    assert_healthy_at(lab, campaign.ids_before, campaign.vms_before, HYPERVISORS, "7.2.0")

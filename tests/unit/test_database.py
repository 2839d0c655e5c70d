"""oned.conf's DB section as the runbook reads it, and the password kept out of records."""

from __future__ import annotations

from pathlib import Path

from oneupgrade.audit.redact import MASK, Redactor
from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import database
from tests.unit.fakes import FakeNode, fake_cluster

# 6.10's shipped section, with its commented MySQL sample after it.
SQLITE = """SCRIPTS_REMOTE_DIR=/var/tmp/one

DB = [ BACKEND = "sqlite",
       TIMEOUT = 2500 ]

# Sample configuration for MySQL
# DB = [ BACKEND = "mysql",
#        SERVER  = "localhost",
#        PASSWD  = "oneadmin",
#        DB_NAME = "opennebula" ]
"""
MYSQL = """DB = [ BACKEND = "mysql",
       SERVER  = "localhost",
       PORT    = 0,
       USER    = "oneadmin",
       PASSWD  = "s3cr-et_Pass",
       DB_NAME = "opennebula",
       CONNECTIONS = 25,
       COMPARE_BINARY = "no" ]
"""


def test_the_shipped_sqlite_section_is_sqlite_and_its_commented_sample_is_ignored() -> None:
    db = database.section(SQLITE)
    assert db == database.Database("sqlite")
    assert database.data_path(db, "192.0.2.1") == database.SQLITE_DB


def test_a_mysql_section_gives_server_user_password_and_database() -> None:
    db = database.section(MYSQL)
    assert (db.backend, db.server, db.port, db.user, db.passwd, db.name) == (
        "mysql", "localhost", 0, "oneadmin", "s3cr-et_Pass", "opennebula",
    )  # fmt: skip
    assert db.local_to("192.0.2.1")
    assert database.data_path(db, "192.0.2.1") == "/var/lib/mysql/opennebula"
    assert "s3cr-et_Pass" not in db.describe()


def test_a_remote_server_has_no_local_data_to_measure() -> None:
    db = database.section(MYSQL.replace('"localhost"', '"db.example.net"').replace("0,", "3306,"))
    assert (db.server, db.port, db.local_to("192.0.2.1")) == ("db.example.net", 3306, False)
    assert database.data_path(db, "192.0.2.1") is None
    # a server named by the front-end's own address is on it
    own = database.section(MYSQL.replace('"localhost"', '"192.0.2.1"'))
    assert database.data_path(own, "192.0.2.1") == "/var/lib/mysql/opennebula"


def test_no_db_section_is_sqlite_as_oned_defaults() -> None:
    assert database.section("LISTEN_ADDRESS = 0.0.0.0\n").backend == "sqlite"


def _cluster(tmp_path: Path, nodes: dict[str, FakeNode]) -> Cluster:
    return fake_cluster(tmp_path, nodes)


def test_guard_reads_each_front_end_once_and_hands_the_password_to_the_redactor(
    tmp_path: Path,
) -> None:
    nodes = {
        "fe1": FakeNode("fe1", answers={"cat -- /etc/one/oned.conf": (0, MYSQL, "")}),
        "fe2": FakeNode("fe2", answers={"cat -- /etc/one/oned.conf": (1, "", "ssh: lost")}),
    }
    cluster = _cluster(tmp_path, nodes)
    redactor = Redactor()
    cluster.on_secret = redactor.add_secret
    leaked = "Unknown error running 'mysqldump -u oneadmin -ps3cr-et_Pass -h localhost'"
    assert "s3cr-et_Pass" in redactor(leaked)  # an unquoted -p: no built-in form catches it
    found = database.guard(cluster)
    assert set(found) == {"fe1"}  # fe2 did not answer: it is read again next time
    assert redactor(leaked) == leaked.replace("s3cr-et_Pass", MASK)
    database.guard(cluster)
    assert nodes["fe1"].ran.count("cat -- /etc/one/oned.conf") == 1
    assert nodes["fe2"].ran.count("cat -- /etc/one/oned.conf") == 2


def test_the_report_note_on_the_process_list_survives_the_redactor() -> None:
    shown = Redactor()(database.PROCESS_LIST_NOTE)
    assert "masks the database password, wherever it appears" in shown
    assert "a process list on that front-end shows it to any local user" in shown

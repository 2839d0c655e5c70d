"""The front-end's database as oned.conf's DB section names it: SQLite's file, or a
MySQL/MariaDB server (BACKEND "mysql", which MariaDB also answers to).

onedb reads the same section, so the runbook's `onedb backup|restore|upgrade|fsck` take
no credentials: none ever goes on a command line the runbook writes. What the upgrade
needs of the section is the backend (for the room check and the report) and the password,
which is handed to the redactor so that no output, error or note carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import config

if TYPE_CHECKING:
    from oneupgrade.cluster import Cluster
    from oneupgrade.transport.node import Node

SQLITE_DB = "/var/lib/one/one.db"
MYSQL_DATADIR = "/var/lib/mysql"  # Debian's and EL's default
# What onedb does with the password, said once in the report of a MySQL zone: its
# backup and restore (and the dumps of `onedb upgrade -b` and `onedb fsck -b`) run
# `mysqldump|mysql -u USER -p'PASSWORD' ...` through /bin/sh (src/onedb/onedb_backend.rb),
# and the shell keeps that command line for as long as the dump or restore lasts, which
# no caller of onedb can change. Worded so that the redactor's "password <value>" form
# finds no value to mask in it.
PROCESS_LIST_NOTE = (
    "the database is MySQL/MariaDB: the runbook gives onedb no credentials (onedb reads "
    "them from oned.conf) and masks the database password, wherever it appears, in the "
    "report, the audit log and the terminal. onedb itself runs mysqldump and mysql through "
    "a shell with it as -p'...' on their command line: for as long as each of its dumps "
    "and restores lasts (backup, restore, upgrade -b, fsck -b), a process list on that "
    "front-end shows it to any local user (the clients hide their own copy; the shell's "
    "stays). Nothing given to onedb changes that: keep other users off the front-ends "
    "during the upgrade, or mount /proc with hidepid=2"
)

_SECTION = re.compile(r"^\s*DB\s*=\s*\[(?P<body>[^\]]*)\]", re.M)
_PAIR = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')


@dataclass(frozen=True)
class Database:
    backend: str  # "sqlite" or "mysql"
    server: str = ""
    port: int = 0
    user: str = ""
    passwd: str = ""
    name: str = ""

    @property
    def mysql(self) -> bool:
        return self.backend == "mysql"

    def local_to(self, address: str) -> bool:
        """On the front-end at `address` itself (its data directory is there to measure):
        SQLite, or a server named `localhost`, a loopback address or the node's own."""
        return not self.mysql or self.server in ("", "localhost", "127.0.0.1", "::1", address)

    def describe(self) -> str:
        if not self.mysql:
            return f"SQLite ({SQLITE_DB})"
        where = self.server or "localhost"
        return f"MySQL/MariaDB database {self.name} at {where} as {self.user}"


def section(oned_conf: str) -> Database:
    """oned.conf's DB section (SQLite when there is none, as oned defaults)."""
    found = _SECTION.search(oned_conf)
    if found is None:
        return Database("sqlite")
    values = {k.upper(): q or bare for k, q, bare in
              _PAIR.findall(found.group("body"))}  # fmt: skip
    backend = values.get("BACKEND", "sqlite").lower()
    if backend != "mysql":
        return Database("sqlite")
    try:
        port = int(values.get("PORT", "0"))
    except ValueError:
        port = 0
    return Database(
        "mysql",
        server=values.get("SERVER", "localhost"),
        port=port,
        user=values.get("USER", ""),
        passwd=values.get("PASSWD", ""),
        name=values.get("DB_NAME", "opennebula"),
    )


def of(node: Node) -> Database:
    return section(node.read_file(config.ONED_CONF))


def guard(cluster: Cluster) -> dict[str, Database]:
    """Each answering front-end's database, read once per run; the passwords join the
    redactor before any onedb command runs. Steps that run onedb call this first (a
    resumed run may not have run preflight)."""
    known: dict[str, Database] = cluster.observed.setdefault("databases", {})
    for node in cluster.frontends:
        if node.name in known:
            continue
        try:
            db = of(node)
        except CommandFailed:
            continue  # an unreachable front-end fails in its own step, naming it
        known[node.name] = db
        if db.passwd:
            cluster.keep_secret(db.passwd)
    return known


def data_path(db: Database, address: str) -> str | None:
    """What a dump is about the size of: SQLite's file, or the MySQL database's data
    directory when the server is the front-end at `address` (None for a server elsewhere:
    its own host keeps the data)."""
    if not db.mysql:
        return SQLITE_DB
    return f"{MYSQL_DATADIR}/{db.name}" if db.local_to(address) else None

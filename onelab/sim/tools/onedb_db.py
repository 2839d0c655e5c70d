"""What every onedb command works on: the connection (oned.conf's DB section and the
options), the node's database in the cluster state, backup files, and the check that
no oned runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import dump, nodestate, onedconf, paths, raft
from .common import Fail

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

LOCK = "/var/lock/one/one"
DEFAULT_ENDPOINT = "http://localhost:2633/RPC2"


class Conn:
    def __init__(self, opts: dict[str, str]) -> None:
        try:
            conf = onedconf.db_section(paths.read_text(paths.at("/etc/one/oned.conf")))
        except OSError as exc:
            raise Fail(f"Unable to parse oned.conf: {exc.strerror}") from exc
        self.backend = conf["BACKEND"].lower()
        self.server = conf["SERVER"]
        self.name = conf["DB_NAME"]
        if "-s" in opts or "--sqlite" in opts:
            self.backend = "sqlite"
        if opts.get("-t", opts.get("--type")):
            self.backend = opts.get("-t", opts.get("--type", "")).lower()
        self.server = opts.get("-S", opts.get("--server", self.server))
        self.name = opts.get("-d", opts.get("--dbname", self.name))

    @property
    def mysql(self) -> bool:
        return self.backend == "mysql"

    def default_file(self) -> str:
        t = time.localtime()
        stamp = f"{t.tm_year}-{t.tm_mon}-{t.tm_mday}_{t.tm_hour}:{t.tm_min}:{t.tm_sec}"
        if self.mysql:
            return f"/var/lib/one/mysql_{self.server}_{self.name}_{stamp}.sql"
        return f"/var/lib/one/one.db_{stamp}.bck"

    def backup_lines(self, file: str) -> list[str]:
        if self.mysql:
            return [
                f"MySQL dump stored in {file}",
                "Use 'onedb restore' or restore the DB using the mysql command:",
                "mysql -u user -h server -P port db_name < backup_file",
                "",
            ]
        return [
            f"Sqlite database backup stored in {file}",
            "Use 'onedb restore' to restore the DB.",
        ]


def node_path(file: str) -> Path:
    p = Path(file)
    if not p.is_absolute():
        return Path(os.getcwd()) / p
    return Path(paths.at(file))


def _endpoint() -> str:
    env = os.environ.get("ONE_XMLRPC")
    if env:
        return env
    try:
        text = paths.read_text(paths.at("/var/lib/one/.one/one_endpoint")).strip()
    except OSError:
        return DEFAULT_ENDPOINT
    return text or DEFAULT_ENDPOINT


def one_not_running(st: dict[str, Any], name: str) -> None:
    # A running oned holds /var/lock/one/one (oned.cc opens it at start, O_EXCL), so the
    # lock is what onedb finds first, as on the real tier; a stale one (oned killed) too.
    if os.path.exists(paths.at(LOCK)) or raft.is_running(st, name):
        raise Fail(f"First stop OpenNebula. Lock file found: {LOCK}")
    ep = _endpoint()
    host = raft.address_of(ep)
    # another oned answering at the endpoint (the VIP's leader, another node)
    if host == st.get("vip") and raft.leader(st) is not None:
        raise Fail(f"OpenNebula found listening on '{ep}'")
    else:
        for other, spec in st.get("nodes", {}).items():
            if spec["address"] == host and raft.is_running(st, other):
                raise Fail(f"OpenNebula found listening on '{ep}'")


def installed_release() -> str:
    rel = nodestate.frontend_release(nodestate.installed())
    if rel is None:
        raise Fail("OpenNebula is not installed")
    return rel


def my_db(st: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in st.get("dbs", {}):
        raise Fail("Error connecting to the database: Can't connect to local MySQL server")
    db = st["dbs"][name]
    assert isinstance(db, dict)
    return db


def write_backup(conn: Conn, db: dict[str, Any], file: str) -> None:
    path = node_path(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump.render(db, conn.backend, conn.server, conn.name))


def refuse_existing(file: str, flags: set[str]) -> None:
    """onedb's backup step (of backup, upgrade and fsck alike): never over a file, unless
    -f. Its default name has the second as its finest part: two commands in one second
    name the same file."""
    if node_path(file).exists() and not ({"-f", "--force"} & flags):
        raise Fail(f"File {file} exists, backup aborted. Use -f to overwrite.")


def backup_first(
    conn: Conn, db: dict[str, Any], opts: dict[str, str], flags: set[str]
) -> list[str]:
    """The backup upgrade and fsck take first (-b FILE, else the default name); the
    lines it prints."""
    file = opts.get("-b", opts.get("--backup")) or conn.default_file()
    refuse_existing(file, flags)
    write_backup(conn, db, file)
    return conn.backup_lines(file)


def version_read(db: dict[str, Any]) -> list[str]:
    return [
        "Version read:",
        f"Shared tables {db['schema']['shared']} : {db.get('comment', '')}",
        f"Local tables  {db['schema']['local']} : {db.get('comment', '')}",
        "",
    ]

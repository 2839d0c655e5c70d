"""onedb: backup, restore, upgrade, fsck, version, history."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from .. import catalogue, dump, nodestate, onedconf, paths, raft, state
from .common import Fail, err, me, out

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

LOCK = "/var/lock/one/one"
DEFAULT_ENDPOINT = "http://localhost:2633/RPC2"
VALUE_OPTS = {"-s", "--sqlite", "-t", "--type", "-S", "--server", "-P", "--port", "-u",
              "--username", "-p", "--password", "-d", "--dbname", "-b", "--backup",
              "--encoding"}  # fmt: skip


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


def _parse(argv: list[str]) -> tuple[list[str], dict[str, str], set[str]]:
    args: list[str] = []
    opts: dict[str, str] = {}
    flags: set[str] = set()
    it = iter(argv)
    for a in it:
        if a in VALUE_OPTS:
            opts[a] = next(it, "")
        elif a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            opts[k] = v
        elif a.startswith("-"):
            flags.add(a)
        else:
            args.append(a)
    return args, opts, flags


def _node_path(file: str) -> Path:
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


def _installed_release() -> str:
    rel = nodestate.frontend_release(nodestate.installed())
    if rel is None:
        raise Fail("OpenNebula is not installed")
    return rel


def _my_db(st: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in st.get("dbs", {}):
        raise Fail("Error connecting to the database: Can't connect to local MySQL server")
    db = st["dbs"][name]
    assert isinstance(db, dict)
    return db


def _write_backup(conn: Conn, db: dict[str, Any], file: str) -> None:
    path = _node_path(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump.render(db, conn.backend, conn.server, conn.name))


def _refuse_existing(file: str, flags: set[str]) -> None:
    """onedb's backup step (of backup, upgrade and fsck alike): never over a file, unless
    -f. Its default name has the second as its finest part: two commands in one second
    name the same file."""
    if _node_path(file).exists() and not ({"-f", "--force"} & flags):
        raise Fail(f"File {file} exists, backup aborted. Use -f to overwrite.")


def backup(conn: Conn, args: list[str], flags: set[str]) -> int:
    file = args[0] if args else conn.default_file()
    _refuse_existing(file, flags)
    st = state.load()
    db = _my_db(st, me())
    _write_backup(conn, db, file)
    for line in conn.backup_lines(file):
        out(line)
    return 0


def restore(conn: Conn, args: list[str], flags: set[str]) -> int:
    if not args:
        raise Fail("onedb restore: missing argument backup_file")
    file = args[0]
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = _my_db(st, name)
        path = _node_path(file)
        if not path.is_file():
            raise Fail(f"File {file} doesn't exist, backup restoration aborted.")
        if not ({"-f", "--force"} & flags):
            if conn.mysql:
                raise Fail(
                    f"MySQL database {conn.name} at {conn.server} exists, use -f to overwrite."
                )
            raise Fail("File /var/lib/one/one.db exists, use -f to overwrite.")
        try:
            data = dump.parse(path.read_text())
        except (OSError, UnicodeDecodeError):
            data = None
        if data is None or not {"schema", "lineage", "index", "data"} <= set(data):
            if conn.mysql:
                raise Fail(f"Error while restoring MySQL DB {conn.name} at {conn.server}.")
            raise Fail("Error while restoring Sqlite database backup /var/lib/one/one.db.")
        db.clear()
        db.update(data)
    if conn.mysql:
        out(f"MySQL DB {conn.name} at {conn.server} restored.")
    else:
        out("Sqlite database backup restored in /var/lib/one/one.db")
    return 0


def _version_read(db: dict[str, Any]) -> list[str]:
    return [
        "Version read:",
        f"Shared tables {db['schema']['shared']} : {db.get('comment', '')}",
        f"Local tables  {db['schema']['local']} : {db.get('comment', '')}",
        "",
    ]


def upgrade(conn: Conn, args: list[str], opts: dict[str, str], flags: set[str]) -> int:
    verbose = bool({"-v", "--verbose"} & flags)
    release = _installed_release()
    target = catalogue.schema(release)
    lines: list[str] = []
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = _my_db(st, name)
        current = db["schema"]["local"]
        if current == target and db["schema"]["shared"] == target:
            out("Database schema is up to date.")
            return 0
        if catalogue.vkey(current) > catalogue.vkey(target):
            raise Fail(
                f"Database version {current} is newer than the version of the installed "
                f"OpenNebula {release} (needs {target})"
            )
        chain = catalogue.schema_chain(current, target)
        if verbose:
            lines += _version_read(db)
        if "--no-backup" not in flags:
            file = opts.get("-b", opts.get("--backup")) or conn.default_file()
            _refuse_existing(file, flags)
            _write_backup(conn, db, file)
            lines += conn.backup_lines(file)
        if not catalogue.has_migrators(nodestate.installed(), release):
            return _no_migrators(conn, db, lines, "--no-backup" not in flags)
        lines.append("")
        comment = (
            f"Database migrated from {current} to {target} (OpenNebula {release}) by onedb command."
        )
        for part in ("shared", "local"):
            lines.append(f">>> Running migrators for {part} tables")
            if verbose:
                for a, b in chain:
                    lines.append(
                        f"  > Running migrator /usr/lib/one/ruby/onedb/{part}/{a}_to_{b}.rb"
                    )
                    lines.append(f"  > Done in {0.0 if part == 'shared' else 0.08:.2f}s")
                    lines.append("")
            lines.append(comment)
            lines.append("")
        if verbose:
            lines.append("Total time: 0.12s")
        db["schema"] = {"shared": target, "local": target}
        db["comment"] = comment
        # The same migrators over the same history give the same history: a follower
        # that upgraded its own database while in sync with the leader still follows
        # it (as the real tier shows), one whose history differed still does not.
        db["lineage"] = hashlib.sha256(f"{db['lineage']}>{target}".encode()).hexdigest()[:16]
    for line in lines:
        out(line)
    return 0


def _no_migrators(conn: Conn, db: dict[str, Any], lines: list[str], restored: bool) -> int:
    """What the real onedb prints when no migrator applies, then its own restore."""
    for part, version in (("shared", db["schema"]["shared"]), ("local", db["schema"]["local"])):
        lines += ["", f">>> Running migrators for {part} tables"]
        lines.append(f"Database already uses version {version}")
    for line in lines:
        out(line)
    err(
        "ERROR: Database upgrade to the latest versions "
        f"(local {db['schema']['local']}, shared {db['schema']['shared']})\nwasn't successful "
        "due to missing migration descriptors. Migrators are\nprovided as part of Enterprise "
        "Edition for customers with active subscription.\nFor community with non-commercial "
        "deployments they are provided via a\ndedicated migration package, which must be "
        "obtained separately."
    )
    out("")
    if restored:  # the database was not changed: its restore gives it back as it was
        out("The database will be restored")
        if conn.mysql:
            out(f"MySQL DB {conn.name} at {conn.server} restored.")
        else:
            out("Sqlite database backup restored in /var/lib/one/one.db")
    return 255


def _check_version(db: dict[str, Any], target: str) -> None:
    if db["schema"]["local"] != target or db["schema"]["shared"] != target:
        raise Fail(
            "Version mismatch: fsck file is for version\n"
            f"Shared: {target}, Local: {target}\n\n"
            "Current database is version\n"
            f"Shared: {db['schema']['shared']}, Local: {db['schema']['local']}"
        )


def fsck(conn: Conn, opts: dict[str, str], flags: set[str]) -> int:
    verbose = bool({"-v", "--verbose"} & flags)
    target = catalogue.schema(_installed_release())
    if "--dry" in flags:
        st = state.load()
        db = _my_db(st, me())
        _check_version(db, target)
        if verbose:
            for line in _version_read(db):
                out(line)
        found = list(st.get("fsck_errors", {}).get(me(), []))
        for line in ["", *found]:
            out(line)
        out(f"Total errors found: {len(found)}")
        out(f"Total repairable errors: {len(found)}")
        out("Total unrepairable errors: 0")
        out("Dry run, no changes have been written to the DB")
        return 0
    lines: list[str] = []
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = _my_db(st, name)
        _check_version(db, target)
        if verbose:
            lines += _version_read(db)
        file = opts.get("-b", opts.get("--backup")) or conn.default_file()
        _refuse_existing(file, flags)
        _write_backup(conn, db, file)
        lines += conn.backup_lines(file)
        if verbose:
            lines.append("  > Running fsck")
        found = st.get("fsck_errors", {}).pop(name, [])  # fsck repairs what it finds
        lines += found
        if verbose:
            lines += ["  > Done", ""]
        report = [
            f"Total errors found: {len(found)}",
            f"Total errors repaired: {len(found)}",
            "Total errors unrepaired: 0",
        ]
        lines += ["", *report]
        if verbose:
            lines.append("  > Total time: 0.12s")
        lines.append("A copy of this output was stored in /var/log/one/onedb-fsck.log")
    log = Path(paths.at("/var/log/one/onedb-fsck.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(lines) + "\n")
    for line in lines:
        out(line)
    return 0


def version(flags: set[str]) -> int:
    release = _installed_release()
    target = catalogue.schema(release)
    st = state.load()
    db = _my_db(st, me())
    shared, local = db["schema"]["shared"], db["schema"]["local"]
    if {"-v", "--verbose"} & flags:
        stamp = time.strftime("%m/%d %H:%M:%S")
        for label, ver in (("Shared", shared), ("Local", local)):
            out(
                f"{label} tables version:   {ver}".replace(
                    "Local tables version:   ", "Local tables version:    "
                )
            )
            out(f"Required version:        {target}")
            out(f"Timestamp: {stamp}")
            out(f"Comment:   {db.get('comment', '')}")
            out("")
    else:
        out(f"Shared: {shared}")
        out(f"Local:  {local}")
        out(f"Required shared version: {target}")
        out(f"Required local version:  {target}")
    if catalogue.vkey(local) < catalogue.vkey(target) or catalogue.vkey(shared) < catalogue.vkey(
        target
    ):
        out("")
        out("Update required. Expected DB version is:")
        out(f"Local:  {target}")
        out(f"Shared: {target}")
        return 2
    if catalogue.vkey(local) > catalogue.vkey(target) or catalogue.vkey(shared) > catalogue.vkey(
        target
    ):
        out("")
        out("WARNING: Source version is lower than DB version")
        return 3
    return 0


def run(tool: str, argv: list[str]) -> int:
    args, opts, flags = _parse(argv)
    if not args:
        raise Fail("Usage: onedb COMMAND [args..] [options..]")
    cmd, rest = args[0], args[1:]
    conn = Conn(opts)
    if cmd == "backup":
        return backup(conn, rest, flags)
    if cmd == "restore":
        return restore(conn, rest, flags)
    if cmd == "upgrade":
        return upgrade(conn, rest, opts, flags)
    if cmd == "fsck":
        return fsck(conn, opts, flags)
    if cmd == "version":
        return version(flags)
    if cmd == "history":
        st = state.load()
        db = _my_db(st, me())
        out(f"Version:   {db['schema']['local']}")
        out(f"Timestamp: {time.strftime('%m/%d %H:%M:%S')}")
        out(f"Comment:   {db.get('comment', '')}")
        out("")
        return 0
    raise Fail(f"onedb: unknown command {cmd!r}")

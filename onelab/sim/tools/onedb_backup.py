"""onedb backup and restore."""

from __future__ import annotations

from .. import dump, state
from .common import Fail, me, out
from .onedb_db import Conn, my_db, node_path, one_not_running, refuse_existing, write_backup


def backup(conn: Conn, args: list[str], flags: set[str]) -> int:
    file = args[0] if args else conn.default_file()
    refuse_existing(file, flags)
    st = state.load()
    db = my_db(st, me())
    write_backup(conn, db, file)
    for line in conn.backup_lines(file):
        out(line)
    return 0


def restore(conn: Conn, args: list[str], flags: set[str]) -> int:
    if not args:
        raise Fail("onedb restore: missing argument backup_file")
    file = args[0]
    path = node_path(file)
    # onedb.rb's restore looks for the file before it looks for a running oned
    if not path.is_file():
        raise Fail(f"File {file} doesn't exist, backup restoration aborted.")
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = my_db(st, name)
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

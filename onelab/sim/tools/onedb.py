"""onedb: backup, restore, upgrade, fsck, version, history."""

from __future__ import annotations

import time

from .. import catalogue, state
from .common import Fail, me, out
from .onedb_backup import backup, restore
from .onedb_db import Conn, installed_release, my_db
from .onedb_fsck import fsck
from .onedb_upgrade import upgrade

VALUE_OPTS = {"-s", "--sqlite", "-t", "--type", "-S", "--server", "-P", "--port", "-u",
              "--username", "-p", "--password", "-d", "--dbname", "-b", "--backup",
              "--encoding"}  # fmt: skip


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


def version(flags: set[str]) -> int:
    release = installed_release()
    target = catalogue.schema(release)
    st = state.load()
    db = my_db(st, me())
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


def history() -> int:
    st = state.load()
    db = my_db(st, me())
    out(f"Version:   {db['schema']['local']}")
    out(f"Timestamp: {time.strftime('%m/%d %H:%M:%S')}")
    out(f"Comment:   {db.get('comment', '')}")
    out("")
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
        return history()
    raise Fail(f"onedb: unknown command {cmd!r}")

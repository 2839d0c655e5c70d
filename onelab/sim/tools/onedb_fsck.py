"""onedb fsck: the inconsistencies the lab planted (`Lab.fsck_errors`), found and repaired."""

from __future__ import annotations

from pathlib import Path

from .. import catalogue, paths, state
from .common import Fail, me, out
from .onedb_db import Conn, backup_first, installed_release, my_db, one_not_running, version_read

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


def _check_version(db: dict[str, Any], target: str) -> None:
    if db["schema"]["local"] != target or db["schema"]["shared"] != target:
        raise Fail(
            "Version mismatch: fsck file is for version\n"
            f"Shared: {target}, Local: {target}\n\n"
            "Current database is version\n"
            f"Shared: {db['schema']['shared']}, Local: {db['schema']['local']}"
        )


def _dry_run(target: str, verbose: bool) -> int:
    st = state.load()
    db = my_db(st, me())
    _check_version(db, target)
    if verbose:
        for line in version_read(db):
            out(line)
    found = list(st.get("fsck_errors", {}).get(me(), []))
    for line in ["", *found]:
        out(line)
    out(f"Total errors found: {len(found)}")
    out(f"Total repairable errors: {len(found)}")
    out("Total unrepairable errors: 0")
    out("Dry run, no changes have been written to the DB")
    return 0


def _repair(
    conn: Conn, opts: dict[str, str], flags: set[str], target: str, verbose: bool
) -> list[str]:
    """Back up, repair what there is to find; the lines fsck prints."""
    lines: list[str] = []
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = my_db(st, name)
        _check_version(db, target)
        if verbose:
            lines += version_read(db)
        lines += backup_first(conn, db, opts, flags)
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
    return lines


def fsck(conn: Conn, opts: dict[str, str], flags: set[str]) -> int:
    verbose = bool({"-v", "--verbose"} & flags)
    target = catalogue.schema(installed_release())
    if "--dry" in flags:
        return _dry_run(target, verbose)
    lines = _repair(conn, opts, flags, target, verbose)
    log = Path(paths.at("/var/log/one/onedb-fsck.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(lines) + "\n")
    for line in lines:
        out(line)
    return 0

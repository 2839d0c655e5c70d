"""onedb upgrade: the schema migrators, or what onedb says when it has none."""

from __future__ import annotations

import hashlib

from .. import catalogue, nodestate, state
from .common import Fail, err, me, out
from .onedb_db import Conn, backup_first, installed_release, my_db, one_not_running, version_read

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


def upgrade(conn: Conn, args: list[str], opts: dict[str, str], flags: set[str]) -> int:
    verbose = bool({"-v", "--verbose"} & flags)
    release = installed_release()
    target = catalogue.schema(release)
    lines: list[str] = []
    with state.mutate() as st:
        name = me()
        one_not_running(st, name)
        db = my_db(st, name)
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
            lines += version_read(db)
        if "--no-backup" not in flags:
            lines += backup_first(conn, db, opts, flags)
        if not catalogue.has_migrators(nodestate.installed(), release):
            return _no_migrators(conn, db, lines, "--no-backup" not in flags)
        comment = (
            f"Database migrated from {current} to {target} (OpenNebula {release}) by onedb command."
        )
        lines += _migrators(chain, comment, verbose)
        _migrated(db, target, comment)
    for line in lines:
        out(line)
    return 0


def _migrators(chain: list[tuple[str, str]], comment: str, verbose: bool) -> list[str]:
    """What running the migrators of `chain` prints."""
    lines = [""]
    for part in ("shared", "local"):
        lines.append(f">>> Running migrators for {part} tables")
        if verbose:
            for a, b in chain:
                lines.append(f"  > Running migrator /usr/lib/one/ruby/onedb/{part}/{a}_to_{b}.rb")
                lines.append(f"  > Done in {0.0 if part == 'shared' else 0.08:.2f}s")
                lines.append("")
        lines.append(comment)
        lines.append("")
    if verbose:
        lines.append("Total time: 0.12s")
    return lines


def _migrated(db: dict[str, Any], target: str, comment: str) -> None:
    db["schema"] = {"shared": target, "local": target}
    db["comment"] = comment
    # The same migrators over the same history give the same history: a follower
    # that upgraded its own database while in sync with the leader still follows
    # it (as the real tier shows), one whose history differed still does not.
    db["lineage"] = hashlib.sha256(f"{db['lineage']}>{target}".encode()).hexdigest()[:16]


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

"""Steps 8 and 9 of "Upgrading Single Front-end" on one front-end: `onedb upgrade -v`,
then `onedb fsck`, each with its automatic backup in a file of its own; and, for
sources before 7.0, the Sunstone views file their labels migration reads."""

from __future__ import annotations

import re
import shlex
import time

from oneupgrade import releases
from oneupgrade.audit.journal import Journal
from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.opennebula.backups import BACKUP_DIR, ONEDB_TIMEOUT, exists
from oneupgrade.transport.node import Node

SUNSTONE_VIEWS = "/etc/one/sunstone-views.yaml"


def sunstone_views_back(node: Node, journal: Journal, installed: str, target: str) -> list[str]:
    """Sources before 7.0: `onecfg upgrade` moves labels_groups into FireEdge's
    default-labels.yaml and deletes sunstone-views.yaml, but `onedb upgrade` migrates
    the persistent labels as user labels from that file, so the step-4 copy goes back
    before it (Step 7's and Step 8's notes)."""
    if journal.fact(f"db_upgraded/{node}"):
        return []
    backups: list[str] = journal.fact(f"config_backups/{node}") or []
    etc_copy = next((p for p in backups if p.startswith("/etc/one.")), None)
    if etc_copy is None:
        return []
    saved = shlex.quote(f"{etc_copy}/sunstone-views.yaml")
    if node.dry_run:
        # onecfg upgrade is only planned: the file it deletes crossing into 7.0 is here
        crossing = releases.parse(installed) < (7, 0) <= releases.parse(releases.resolve(target))
        if not crossing or not exists(node, SUNSTONE_VIEWS):
            return []
    elif exists(node, SUNSTONE_VIEWS) or not exists(node, saved.strip("'")):
        return []
    node.run(f"cp -p {saved} {SUNSTONE_VIEWS}", mutating=True)
    journal.remember(f"sunstone_views_back/{node}", "put back")  # a dry run's is not saved
    return [f"{SUNSTONE_VIEWS} put back from {etc_copy} for the labels migration"]


def sunstone_views_deleted(node: Node, journal: Journal) -> list[str]:
    """Step 10 (sources before 7.0): "now you can safely delete" it, once the database
    is upgraded (a failed fsck and --lf included); step 4's copy keeps it."""
    put_back = f"sunstone_views_back/{node}"
    if journal.fact(put_back) != "put back":
        return []
    node.run(f"rm -f {SUNSTONE_VIEWS}", mutating=True)
    journal.remember(put_back, "deleted")
    return [f"{SUNSTONE_VIEWS} deleted again (kept in the step-4 backup)"]


def _own_dump(node: Node, command: str) -> str:
    """A backup file of the command's own: onedb's default name ends at the second, so
    `onedb upgrade` and the `onedb fsck` right after it can name the same file, and
    the second refuses ("File ... exists, backup aborted")."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return shlex.quote(f"{BACKUP_DIR}/onedb-{command}-{node}-{stamp}.sql")


_FSCK_TOTAL = re.compile(r"^Total errors found: (\d+)", re.M)
_FSCK_OWN = (
    "Sqlite database backup",
    "MySQL dump stored",
    "Use 'onedb restore'",
    "mysql -u ",
    "  > ",
)


def fsck_errors(output: str) -> list[str]:
    """The errors `onedb fsck` reported ([] when "Total errors found: 0"): the lines it
    printed between its backup notice and its totals."""
    total = _FSCK_TOTAL.search(output)
    if total is None or int(total.group(1)) == 0:
        return []
    before = output[: total.start()].splitlines()
    found = [ln for ln in before if ln.strip() and not ln.startswith(_FSCK_OWN)]
    return found or [f"Total errors found: {total.group(1)}"]


def upgrade_database(node: Node, journal: Journal) -> list[str]:
    """Steps 8 and 9: `onedb upgrade -v`, then `onedb fsck` on the upgraded schema, each
    with its automatic backup in a file of its own."""
    version = node.run("onedb version", check=False)
    # onedb version: 0 current, 2 upgrade needed (reference §3.4)
    if version.exit_status == 2 or node.dry_run:
        node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
        dump = _own_dump(node, "upgrade")
        node.run(f"onedb upgrade -v -b {dump}", mutating=True, timeout=ONEDB_TIMEOUT)
        journal.remember(f"db_upgraded/{node}", True)
    elif version.exit_status != 0:
        raise CommandFailed(version)
    # fsck checks the upgraded schema; an untouched database needs no new check.
    if (journal.fact(f"db_upgraded/{node}") or node.dry_run) and not journal.fact(
        f"db_fsck/{node}"
    ):
        dump = _own_dump(node, "fsck")
        result = node.run(f"onedb fsck -b {dump}", mutating=True, timeout=ONEDB_TIMEOUT)
        found = fsck_errors(result.stdout)
        if found:
            # fsck repaired what it could, but an upgrade that left errors is not to be
            # trusted silently; `--lf` runs fsck again once the operator has looked.
            raise PreconditionFailed(
                f"{node}: onedb fsck found {len(found)} error(s) in the upgraded database "
                f"(backup before it: {dump.strip(chr(39))}):\n  " + "\n  ".join(found[:20])
            )
        if not node.dry_run:
            journal.remember(f"db_fsck/{node}", True)
        return ["onedb upgrade -v", "onedb fsck"]
    return []

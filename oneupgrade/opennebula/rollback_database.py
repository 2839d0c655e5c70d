"""Rollback step 2: "restore the DB backup using `onedb restore -f`" with the upgraded
OpenNebula still installed; every front-end gets the leader's pre-upgrade dump (one
database for the zone), its sha256 checked on each."""

from __future__ import annotations

import shlex

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula.backups import BACKUP_DIR, ONEDB_TIMEOUT, Backup, sha256
from oneupgrade.opennebula.rollback import RESTORED
from oneupgrade.transport.node import Node


def restore_database(source: Node, node: Node, dump: Backup, journal: Journal) -> str:
    """The leader's dump onto `node` (copied when it is another node), sha256 checked,
    then `onedb restore -f` with the upgraded OpenNebula still installed."""
    key = RESTORED.format(node=node)
    if journal.fact(key) == dump.sha256:
        return "already restored"
    path = dump.path
    if node is not source:
        path = f"{BACKUP_DIR}/{dump.path.rsplit('/', 1)[-1]}"
        if node.dry_run or sha256(node, path) != dump.sha256:
            data = b"" if source.dry_run else source.fetch(dump.path)
            node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
            node.push(f"cat > {shlex.quote(path)}", data)
    seen = "<sha256>" if node.dry_run else sha256(node, path)
    if not node.dry_run and seen != dump.sha256:
        raise PreconditionFailed(
            f"{node}: {path} has sha256 {seen}, not the recorded {dump.sha256}: the dump is "
            "damaged; the database was NOT restored (the controller keeps a copy in the "
            "campaign's backup directory, reports/<cluster>.backups or --backup-dir)"
        )
    node.run(f"onedb restore -f {shlex.quote(path)}", mutating=True, timeout=ONEDB_TIMEOUT)
    journal.remember(key, dump.sha256)
    return f"restored {path}"

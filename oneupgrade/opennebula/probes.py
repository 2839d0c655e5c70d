"""Custom monitoring probes: files under remotes/im that no installed package owns.

Step 11 of "Upgrading Single Front-end" ("Restore Custom Probes") leaves them to the
operator: they must be updated to the target's monitoring system by hand. Preflight
finds them before anything changes, step 4 keeps them in a tar beside the database
dumps, and the report lists them with that step.
"""

from __future__ import annotations

import shlex
import time

from oneupgrade.audit.journal import Journal
from oneupgrade.transport.node import Node

PROBES_DIR = "/var/lib/one/remotes/im"
BACKUP_DIR = "/var/lib/one/backups/oneupgrade"
REMEDY = (
    "update them to the target's monitoring system (Upgrading Single Front-end, step 11, "
    "Restore Custom Probes)"
)

_OWNED = {
    "deb": "for p in $(dpkg-query -W -f='${Package}\\n' 'opennebula*' 2>/dev/null); do "
    'dpkg-query -L "$p" 2>/dev/null; done',
    "rpm": "for p in $(rpm -qa --qf '%{NAME}\\n' 'opennebula*' 2>/dev/null); do "
    'rpm -ql "$p" 2>/dev/null; done',
}


def unowned_command(family: str) -> str:
    """A read-only command printing the files of PROBES_DIR that no package owns."""
    return (
        f"{{ {_OWNED[family]} | sed 's/^/P /'; "
        f"find {PROBES_DIR} -type f 2>/dev/null | sed 's/^/F /'; }} | "
        "awk '/^P /{own[substr($0, 3)] = 1; next} "
        "/^F /{f = substr($0, 3); if (!(f in own)) print f}' | sort"
    )


def custom_probes(node: Node, family: str) -> list[str]:
    return [ln for ln in node.run(unowned_command(family)).stdout.splitlines() if ln.strip()]


def back_up(node: Node, journal: Journal) -> str | None:
    """Step 4: a tar of the custom probes preflight found (None: none, or kept already)."""
    found: list[str] = journal.fact(f"custom_probes/{node}") or []
    key = f"custom_probes_backup/{node}"
    if not found or journal.fact(key):
        return None
    path = f"{BACKUP_DIR}/custom-probes-{node}-{time.strftime('%Y%m%d-%H%M%S')}.tar"
    names = " ".join(shlex.quote(f.lstrip("/")) for f in found)
    node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
    node.run(f"tar -C / -cf {shlex.quote(path)} {names}", mutating=True)
    if not node.dry_run:
        journal.remember(key, path)
    return path

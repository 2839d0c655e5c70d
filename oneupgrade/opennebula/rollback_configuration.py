"""Rollback step 4: "copy back the backup of /etc/one you did to restore your
configuration": each front-end's own step-4 backups (so its SERVER_ID) copied back."""

from __future__ import annotations

import shlex
import time

from oneupgrade.errors import PreconditionFailed
from oneupgrade.transport.node import Node


def restore_configuration(node: Node, backups: list[str]) -> list[str]:
    """Each backup of step 4 (`/etc/one.DATE` ...) copied back over its original; what
    the upgrade left there is kept beside it as `<path>.rolled-back`."""
    done = []
    for backup in backups:
        original = _original(backup)
        if not node.run(f"test -e {shlex.quote(backup)}", check=False).ok and not node.dry_run:
            raise PreconditionFailed(f"{node}: the configuration backup {backup} is gone")
        same = node.run(f"diff -r -q {shlex.quote(backup)} {shlex.quote(original)}", check=False).ok
        if same and not node.dry_run:
            continue
        aside = f"{original}.rolled-back-{time.strftime('%Y%m%d-%H%M%S')}"
        b, o, a = shlex.quote(backup), shlex.quote(original), shlex.quote(aside)
        node.run(f"{{ test ! -e {o} || mv {o} {a}; }} && cp -a {b} {o}", mutating=True)
        done.append(f"{original} from {backup}")
    return done


def _original(backup: str) -> str:
    """`/etc/one.2026-12-03` or `/etc/one.2026-12-03.2` -> `/etc/one`."""
    head, _, tail = backup.rpartition("/")
    name = tail.split(".")
    # the stamp is the first dot-part that starts with a digit after the name
    for i, part in enumerate(name[1:], start=1):
        if part[:4].isdigit():
            return f"{head}/{'.'.join(name[:i])}"
    return backup

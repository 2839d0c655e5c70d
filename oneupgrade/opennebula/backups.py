"""Step 4 of "Upgrading Single Front-end" on one front-end: the configuration and the
database backed up before anything changes, and a copy of both kept on the controller.

Each backup is a file or directory of its own, never overwritten, recorded in the
journal with what proves it (the dump's sha256), so a rerun finds it again.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

from oneupgrade.audit.journal import Journal
from oneupgrade.opennebula import onecfg, probes, safekeeping
from oneupgrade.transport.node import Node

BACKUP_DIR = "/var/lib/one/backups/oneupgrade"
# Long-running commands get generous deadlines; a hang still ends.
ONEDB_TIMEOUT = 3600.0
CONFIG_DIRS = ("/etc/one", "/var/lib/one/remotes/etc")
CONFIG_FILES = (onecfg.CONF,)  # copied beside them where they exist


@dataclass(frozen=True)
class Backup:
    node: str
    path: str
    sha256: str
    taken: float = 0.0  # when `onedb backup` started (controller clock); 0: not recorded


def _stamp() -> str:
    return time.strftime("%Y-%m-%d")


def exists(node: Node, path: str) -> bool:
    return node.run(f"test -e {shlex.quote(path)}", check=False).exit_status == 0


def back_up(node: Node, journal: Journal) -> list[str]:
    """Step 4: back up the configuration and the database before anything changes, the
    custom probes with them; both copied to the controller. Returns what was done."""
    done = []
    paths = backup_configuration(node, journal)
    backup = backup_database(node, journal, "pre-upgrade")
    done.append(f"backups {', '.join(paths)}, {backup.path}")
    probes_tar = probes.back_up(node, journal)
    if probes_tar:
        done.append(f"custom probes kept in {probes_tar}: {probes.REMEDY}")
    copies = [
        safekeeping.keep_dump(node, journal, backup.path, backup.sha256),
        safekeeping.keep_configuration(
            node, journal, [*paths, *([probes_tar] if probes_tar else [])]
        ),
    ]
    done += [f"copied to the controller: {c}" for c in copies if c]
    return done


def backup_configuration(node: Node, journal: Journal) -> list[str]:
    """Step 4: `cp -ra` copies of /etc/one and /var/lib/one/remotes/etc, and of onecfg's
    state (/etc/onecfg.conf) where it exists: a way back needs all three.

    An earlier backup is never overwritten (`cp -ra /etc/one /etc/one.DATE` into an
    existing directory would nest the copy inside it): a taken name gets a suffix.
    """
    key = f"config_backups/{node}"
    done: list[str] | None = journal.fact(key)
    if done and all(exists(node, path) for path in done):
        return done
    paths = []
    for source in (*CONFIG_DIRS, *(f for f in CONFIG_FILES if exists(node, f))):
        target = f"{source}.{_stamp()}"
        suffix = 1
        while exists(node, target):
            suffix += 1
            target = f"{source}.{_stamp()}.{suffix}"
        src, dst = shlex.quote(source), shlex.quote(target)
        node.run(f"test ! -e {dst} && cp -ra {src} {dst}", mutating=True)
        paths.append(target)
    journal.remember(key, paths)
    return paths


def backup_database(node: Node, journal: Journal, purpose: str) -> Backup:
    """`onedb backup` to a new file of its own; its sha256 is recorded in the journal."""
    key = f"db_backup/{purpose}/{node}"
    known = journal.fact(key)
    if known:
        backup = Backup(**known)
        if node.dry_run or sha256(node, backup.path) == backup.sha256:
            return backup
    name = f"{purpose}-{node}-{time.strftime('%Y%m%d-%H%M%S')}.sql"
    path = f"{BACKUP_DIR}/{name}"
    node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
    taken = time.time()
    node.run(f"onedb backup {shlex.quote(path)}", mutating=True, timeout=ONEDB_TIMEOUT)
    digest = "<sha256 of the backup>" if node.dry_run else (sha256(node, path) or "")
    backup = Backup(node.name, path, digest, round(taken))
    journal.remember(key, backup.__dict__)  # a dry run's journal is never saved
    return backup


def sha256(node: Node, path: str) -> str | None:
    """The file's sha256 on the node (None: it cannot be read)."""
    result = node.run(f"sha256sum {shlex.quote(path)}", check=False)
    return result.stdout.split()[0] if result.ok and result.stdout else None

"""Backups that survive the node: step 4's copies kept on the controller too.

A front-end whose disk dies mid-upgrade takes its pre-upgrade dump and its /etc/one
copy with it, and they are the way back ("Restoring the Previous Version"). Each is
copied into the campaign's backup directory (--backup-dir, by default
reports/<cluster>.backups beside the report directory and never inside it: the dumps
and oned.conf carry the database password, and the report directory is what an
operator hands on), <node>/ in it, files 0600 in 0700 directories, its sha256 checked
against the one taken on the node, and recorded in the journal, so a rerun copies only
what is missing or damaged.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.transport.node import Node

ONEDB_TIMEOUT = 3600.0


def store_of(journal: Journal) -> Path:
    if journal.backup_dir is not None:
        return journal.backup_dir
    report_dir = journal.path.parent
    return report_dir.with_name(f"{report_dir.name}.backups")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # the store and its <node>/: mkdir gives the parents the umask's mode
    for directory in (path.parent.parent, path.parent):
        os.chmod(directory, 0o700)
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kept(journal: Journal, key: str) -> bool:
    known = journal.fact(key)
    if not isinstance(known, dict):
        return False
    path = Path(str(known.get("copy", "")))
    return path.is_file() and _sha256_file(path) == known.get("sha256")


def keep_dump(node: Node, journal: Journal, path: str, sha256: str) -> str | None:
    """Copy the dump `path` of `node` to the controller, checked against `sha256`."""
    key = f"controller_copy/{node}/{path.rsplit('/', 1)[-1]}"
    if node.dry_run or _kept(journal, key):
        return None
    data = node.fetch(path, timeout=ONEDB_TIMEOUT)
    seen = hashlib.sha256(data).hexdigest()
    if seen != sha256:
        raise PreconditionFailed(
            f"{node}: the controller's copy of {path} has sha256 {seen}, not {sha256} as "
            "on the node: damaged in transfer; rerun to copy it again"
        )
    copy = store_of(journal) / node.name / path.rsplit("/", 1)[-1]
    _write_private(copy, data)
    journal.remember(
        key,
        {"node": node.name, "source": path, "copy": str(copy), "sha256": seen, "bytes": len(data)},
    )
    return str(copy)


def keep_configuration(node: Node, journal: Journal, paths: list[str]) -> str | None:
    """A tar of step 4's configuration copies, on the controller."""
    key = f"controller_copy/{node}/configuration"
    if node.dry_run or not paths or _kept(journal, key):
        return None
    names = " ".join(shlex.quote(p.lstrip("/")) for p in paths)
    data = node.fetch_output(f"tar -C / -cf - {names}", timeout=ONEDB_TIMEOUT)
    copy = store_of(journal) / node.name / f"configuration-{Path(paths[0]).name}.tar"
    _write_private(copy, data)
    seen = hashlib.sha256(data).hexdigest()
    journal.remember(
        key,
        {"node": node.name, "source": " ".join(paths), "copy": str(copy), "sha256": seen,
         "bytes": len(data)},
    )  # fmt: skip
    return str(copy)

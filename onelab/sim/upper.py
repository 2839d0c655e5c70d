"""Writing into a node's overlay upper directory (or a fake root): files, directories,
whiteouts."""

from __future__ import annotations

import os
import stat

from .paths import chown, write_text

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from pathlib import Path


def put(
    upper: Path, rel: str, text: str, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
    path = upper / rel.lstrip("/")
    if path.is_symlink():
        path.unlink()
    write_text(path, text, mode)
    if owner:
        chown(path, *owner)


def mkdirs(upper: Path, rel: str, owner: tuple[int, int] | None = None) -> None:
    path = upper / rel.lstrip("/")
    path.mkdir(parents=True, exist_ok=True)
    if owner:
        chown(path, *owner)


def whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    try:
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    except PermissionError:
        pass  # unprivileged unit tests: nothing to hide

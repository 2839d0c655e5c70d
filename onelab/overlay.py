"""A node's overlay upper layer: directories made with the host directory's mode and
owner (the overlay shows the upper directory's attributes), files with an exact mode."""

from __future__ import annotations

import os
from pathlib import Path


def mkdirs_like(upper: Path, host_root: str, rel: str, default_mode: int = 0o755) -> Path:
    """Create upper/rel component by component with the host directory's mode and owner,
    because the overlay shows the upper directory's attributes."""
    current = upper
    host = Path(host_root)
    for part in Path(rel).parts:
        current = current / part
        host = host / part
        if current.is_dir():
            continue
        current.mkdir()
        try:
            st = host.stat()
            os.chmod(current, st.st_mode & 0o7777)
            os.chown(current, st.st_uid, st.st_gid)
        except FileNotFoundError:
            os.chmod(current, default_mode)
    return current


def write_file(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)

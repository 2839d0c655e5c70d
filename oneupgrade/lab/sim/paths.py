"""Where a node's files are: everything is resolved under ONESIM_ROOT (default /)."""

from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


ONEADMIN_UID = 9869


def root() -> Path:
    return Path(os.environ.get("ONESIM_ROOT", "/"))


def at(rel: str) -> Path:
    """A node path such as "/etc/one/oned.conf" resolved under the root."""
    return root() / rel.lstrip("/")


def local_dir() -> Path:
    return at("/var/lib/one-lab/local")


def shared_dir() -> Path:
    return at("/var/lib/one-lab/shared")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def write_json(path: Path, data: Any, mode: int = 0o644, *, compact: bool = False) -> None:
    if compact:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    else:
        text = json.dumps(data, indent=1, sort_keys=True)
    write_text(path, text + "\n", mode)


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic replace with an explicit mode (umask-proof)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def oneadmin_ids(base: Path | None = None) -> tuple[int, int]:
    """uid/gid of oneadmin from the node's /etc/passwd (9869 when absent)."""
    passwd = (base if base is not None else root()) / "etc/passwd"
    try:
        for line in passwd.read_text().splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == "oneadmin":
                return int(parts[2]), int(parts[3])
    except (OSError, ValueError):
        pass
    return ONEADMIN_UID, ONEADMIN_UID


def chown(path: Path, uid: int, gid: int) -> None:
    try:
        os.lchown(path, uid, gid)
    except PermissionError:
        pass


def node() -> dict[str, Any]:
    data = read_json(at("/etc/one-lab/node.json"), {})
    assert isinstance(data, dict)
    return data

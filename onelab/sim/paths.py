"""Where a node's files are: everything is resolved under ONESIM_ROOT (default /)."""

from __future__ import annotations

import os

from . import fastjson

# Paths are strings (os.path), not pathlib: pathlib imports re, fnmatch, urllib and
# ipaddress, ~10 ms of every simulated command. Host-side callers may pass Path.
TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    StrPath: TypeAlias = "str | os.PathLike[str]"


ONEADMIN_UID = 9869


def root() -> str:
    return os.environ.get("ONESIM_ROOT", "/")


def at(rel: str) -> str:
    """A node path such as "/etc/one/oned.conf" resolved under the root."""
    return os.path.join(root(), rel.lstrip("/"))


def local_dir() -> str:
    return at("/var/lib/one-lab/local")


def shared_dir() -> str:
    return at("/var/lib/one-lab/shared")


def read_text(path: StrPath) -> str:
    with open(path) as fh:
        return fh.read()


def read_json(path: StrPath, default: Any = None) -> Any:
    try:
        return fastjson.loads(read_text(path))
    except FileNotFoundError:
        return default


def write_json(path: StrPath, data: Any, mode: int = 0o644, *, compact: bool = False) -> None:
    if compact:
        text = fastjson.dumps(data, sort_keys=True)
    else:
        text = fastjson.dumps(data, indent=1, sort_keys=True)
    write_text(path, text + "\n", mode)


def write_text(path: StrPath, text: str, mode: int = 0o644) -> None:
    """Atomic replace with an explicit mode (umask-proof)."""
    path = os.fspath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def oneadmin_ids(base: StrPath | None = None) -> tuple[int, int]:
    """uid/gid of oneadmin from the node's /etc/passwd (9869 when absent)."""
    passwd = os.path.join(base if base is not None else root(), "etc/passwd")
    try:
        for line in read_text(passwd).splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == "oneadmin":
                return int(parts[2]), int(parts[3])
    except (OSError, ValueError):
        pass
    return ONEADMIN_UID, ONEADMIN_UID


def chown(path: StrPath, uid: int, gid: int) -> None:
    try:
        os.lchown(path, uid, gid)
    except PermissionError:
        pass


def node() -> dict[str, Any]:
    data = read_json(at("/etc/one-lab/node.json"), {})
    assert isinstance(data, dict)
    return data

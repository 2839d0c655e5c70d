"""oned's start-up checks, and what a running oned means for the cluster."""

from __future__ import annotations

import os
import time

from . import catalogue, nodestate, onedconf, paths, pool, raft

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

LOCK = "/var/lock/one/one"
OWNED_TREES = ("/etc/one", "/var/lib/one/remotes/etc")


def log(message: str) -> None:
    path = paths.at("/var/log/one/oned.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    with open(path, "a") as fh:
        fh.write(f"{stamp} [Z0][ONE][E]: {message}\n")


def _unowned(uid: int) -> str | None:
    for tree in OWNED_TREES:
        top = paths.at(tree)
        if not os.path.exists(top):
            return f"Cannot access {tree}: No such file or directory"
        for dirpath, dirnames, filenames in os.walk(top):
            for name in ["", *dirnames, *filenames]:
                p = os.path.join(dirpath, name) if name else dirpath
                if os.lstat(p).st_uid != uid:
                    rel = "/" + os.path.relpath(p, paths.root())
                    return f"Cannot open {rel}: Permission denied (not owned by oneadmin)"
    return None


def judge(st: dict[str, Any], me: str, pkgs: nodestate.Packages) -> tuple[int, str | None]:
    """(SERVER_ID read, reason oned refuses to start or None)."""
    release = nodestate.frontend_release(pkgs)
    if release is None:
        return -1, "opennebula is not installed"
    reason = _unowned(paths.oneadmin_ids()[0])
    if reason:
        return -1, reason
    try:
        text = paths.read_text(paths.at("/etc/one/oned.conf"))
        sid = onedconf.server_id(text)
    except (OSError, ValueError):
        return -1, "Error parsing configuration file /etc/one/oned.conf"
    if me not in st.get("dbs", {}):
        return sid, "Error connecting to the database: no database for this node"
    need = catalogue.schema(release)
    have = st["dbs"][me]["schema"]["local"]
    if have != need:
        return sid, (
            "Database version mismatch ( local_db_versioning). Installed OpenNebula "
            f"{release} needs DB version '{need}', and existing DB version is '{have}'."
        )
    return sid, None


def start(st: dict[str, Any], me: str, sid: int) -> None:
    st.setdefault("oned", {})[me] = {"server_id": sid, "started": time.time()}
    lock = paths.at(LOCK)
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    with open(lock, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    raft.reconcile(st)
    # monitord starts with oned and copies this front-end's remotes to the hosts
    try:
        remotes = paths.read_text(paths.at("/var/lib/one/remotes/VERSION")).strip()
    except OSError:
        remotes = ""
    if remotes and me in st.get("dbs", {}):
        pool.monitoring_starts(st, raft.db(st, me)["data"]["hosts"], remotes)


def stop(st: dict[str, Any], me: str) -> None:
    st.setdefault("oned", {}).pop(me, None)
    try:
        os.unlink(paths.at(LOCK))
    except FileNotFoundError:
        pass
    raft.reconcile(st)


def running(st: dict[str, Any], me: str) -> bool:
    return raft.is_running(st, me)

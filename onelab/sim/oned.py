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


def log(message: str, module: str = "ONE", level: str = "E") -> None:
    path = paths.at("/var/log/one/oned.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    with open(path, "a") as fh:
        fh.write(f"{stamp} [Z0][{module}][{level}]: {message}\n")


# The drivers the lab's oned.conf configures: the Virtual Machine Manager's (NAME, type)
# and the other managers' (NAME, EXECUTABLE), as a real oned logs them.
VMM_DRIVERS = (("kvm", "KVM"), ("qemu", "QEMU"), ("lxc", "XML"))
DRIVERS = (
    ("hook_exe", "one_hm"), ("monitord", "onemonitord"), ("transfer_exe", "one_tm"),
    ("auth_exe", "one_auth_mad"), ("image_exe", "one_datastore"), ("market_exe", "one_market"),
    ("ipam_exe", "one_ipam"),
)  # fmt: skip


def _log_start(st: dict[str, Any], me: str) -> None:
    """What a real oned logs at its start: the release, then each driver it loads
    (include/DriverManager.h), a driver whose executable is missing in error."""
    release = nodestate.frontend_release(nodestate.installed()) or "?"
    log(f"Starting OpenNebula {release} ()", level="I")
    missing = st.get("missing_drivers", {}).get(me, [])
    log("Loading Virtual Machine Manager drivers.", "VMM", "I")
    for name, kind in VMM_DRIVERS:
        log(f"\tLoading driver: {name} ({kind})", "VMM", "I")
        if "one_vmm_exec" in missing:
            log("File not exists: /usr/lib/one/mads/one_vmm_exec", "DrM", "E")
        else:
            log(f"\tDriver {name} loaded.", "VMM", "I")
    log("Loading drivers.", "DrM", "I")
    for name, executable in DRIVERS:
        log(f"Loading driver: {name}", "DrM", "I")
        if executable in missing:
            log(f"File not exists: /usr/lib/one/mads/{executable}", "DrM", "E")
        else:
            log(f"\tDriver loaded: {name}", "DrM", "I")


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
    _log_start(st, me)
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

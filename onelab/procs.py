"""Finding and stopping a lab's processes by pid and mount namespace, never by name.

A node is every process in its mount namespace: the sshd listener and each session. A
namespace belongs to a lab when its mount table holds an overlay whose upper layer lies in
the lab's `nodes/` directory, so even sessions whose listener is gone are found.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable


def mnt_ns(pid: int | str) -> str | None:
    """The mount namespace id ('mnt:[4026...]') of a live process, or None."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def is_zombie(pid: int | str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def mountinfo(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def node_marker(nodes_dir: str, name: str | None = None) -> str:
    """The text an overlay line of a lab node's mount table contains."""
    return f"upperdir={nodes_dir}/{name}/upper/" if name else f"upperdir={nodes_dir}/"


def all_by_namespace() -> dict[str, list[int]]:
    """Live (non-zombie) pids grouped by mount namespace, the host's namespace left out."""
    host = mnt_ns("self")
    groups: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        ns = mnt_ns(entry)
        if ns is None or ns == host or is_zombie(entry):
            continue
        groups.setdefault(ns, []).append(int(entry))
    return groups


def lab_namespaces(marker: str, known: Iterable[str] = ()) -> dict[str, list[int]]:
    """Namespaces (with their live pids) whose mount table contains `marker`."""
    known = set(known)
    found: dict[str, list[int]] = {}
    for ns, pids in all_by_namespace().items():
        if ns in known or has_mounts(pids, marker):
            found[ns] = pids
    return found


def pid_in_lab(pid: int, marker: str) -> bool:
    """Is `pid` a live process in a namespace whose mounts contain `marker`?"""
    return not is_zombie(pid) and marker in mountinfo(pid)


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def reap(pids: Iterable[int]) -> None:
    """Collect exit statuses of any of `pids` that are our own children."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def stop_namespaces(
    marker: str, first: Iterable[int] = (), known: Iterable[str] = (), timeout: float = 10.0
) -> int:
    """TERM `first` (the listeners), then every process in the lab's namespaces; KILL after
    a grace period; return when none is left. Returns how many namespaces were stopped."""
    first = list(first)
    known = set(known)
    known |= {ns for ns in map(mnt_ns, first) if ns is not None}
    targets = lab_namespaces(marker, known)
    _signal(first, signal.SIGTERM)
    stopped = set(targets)
    deadline = time.monotonic() + timeout
    kill_after = time.monotonic() + min(2.0, timeout / 2)
    seen = set(first)
    while targets:
        pids = [p for ps in targets.values() for p in ps]
        seen.update(pids)
        _signal(pids, signal.SIGKILL if time.monotonic() > kill_after else signal.SIGTERM)
        time.sleep(0.02)
        reap(first + pids)
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes left in lab namespaces: {sorted(pids)}")
        targets = {
            ns: live
            for ns, live in all_by_namespace().items()
            if ns in stopped and still_ours(live, seen, marker)
        }
    reap(first)
    return len(stopped)


def still_ours(pids: list[int], seen: set[int], marker: str) -> bool:
    """Is a namespace whose id was one of the lab's still the lab's? The kernel reuses a
    freed namespace's id at once, so another lab's node started meanwhile can carry it:
    it is ours only if it holds a process already signalled or the lab's mounts."""
    return any(pid in seen for pid in pids) or has_mounts(pids, marker)


def has_mounts(pids: list[int], marker: str) -> bool:
    """Does the namespace of `pids` (its first two suffice) hold mounts with `marker`?"""
    return any(marker in mountinfo(pid) for pid in pids[:2])

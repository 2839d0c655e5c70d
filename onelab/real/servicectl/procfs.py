"""Processes as /proc shows them: their state, session and start time; a unit's sessions."""

from __future__ import annotations

import os
import signal


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields from the 3rd (state) on: [3] session, [19] start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].decode().split()


def alive(pid: int, ticks: int | None = None) -> bool:
    f = proc_stat(pid)
    return f is not None and f[0] != "Z" and (ticks is None or int(f[19]) == ticks)


def members(sids: set[int], ticks: int | None) -> list[int]:
    """Live processes of the sessions sids that started no earlier than the main one."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = proc_stat(int(entry))
            if f and f[0] != "Z" and int(f[3]) in sids and int(f[19]) >= (ticks or 0):
                pids.append(int(entry))
    return pids


def kill_session(sids: set[int], ticks: int | None, sig: int) -> list[int]:
    pids = members(sids, ticks)
    for pid in pids:
        for s in (sig, signal.SIGCONT):
            try:
                os.kill(pid, s)
            except OSError:
                pass
    return pids

"""How a fault acts on the command it hits: it hangs, or drops the SSH connection."""

from __future__ import annotations

import os
import sys
import time

# Imported where used (contextlib, ctypes, signal): every simulated command imports
# this module and most never need them.


def die_with_parent() -> None:
    import contextlib
    import ctypes  # only a hanging command needs it
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def hang() -> None:
    die_with_parent()
    while True:
        time.sleep(3600)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            text = fh.read()
        for line in text.splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def session_pids(start: int | None = None) -> list[int]:
    """The sshd session processes above us ("sshd: ..."), never the listener.

    The listener retitles itself "sshd: /usr/sbin/sshd -D ... [listener] ...".
    """
    pid = os.getppid() if start is None else start
    found: list[int] = []
    while pid > 1:
        cmd = _cmdline(pid)
        if "[listener]" in cmd or " -D " in f"{cmd} ":
            break
        if cmd.startswith("sshd:"):
            found.append(pid)
        elif found:
            break
        pid = _ppid(pid)
    return found


def drop_connection() -> None:
    import contextlib
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    for pid in session_pids():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

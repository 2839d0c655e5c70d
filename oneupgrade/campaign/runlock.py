"""One run at a time per journal: a second run against the same cluster is refused.

Two runs at once (a second terminal, a run started twice) would interleave changing
commands on the same nodes and overwrite each other's journal. The lock is an
exclusive `flock` on reports/<cluster>/run.lock, held for the life of the process:
the kernel releases it however the process ends (even SIGKILL), so a lock is never
left stale. The file names its holder for the message of the run it refuses.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO

from oneupgrade.errors import RunbookError

LOCK_NAME = "run.lock"


class RunLocked(RunbookError):
    """Another run holds the cluster's lock."""


def acquire(report_dir: Path, cluster: str, run_id: str) -> IO[str]:
    """Take the lock; the open file holds it (close it, or exit, to release)."""
    path = report_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    handle = open(fd, "a+")  # held open: the open file holds the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process"
        handle.close()
        raise RunLocked(
            f"another run against cluster {cluster} is in progress ({holder}; lock {path}); "
            "wait for it to end or stop it (Ctrl-C), then run again"
        ) from None
    handle.seek(0)
    handle.truncate()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, run {run_id}, since {since}\n")
    handle.flush()
    return handle

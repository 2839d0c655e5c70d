"""A service's main process, started and awaited as its Type= says: simple, notify
(READY=1 on NOTIFY_SOCKET) or forking (the PIDFile, or the process the fork left)."""

from __future__ import annotations

import os
import select
import socket
import time

from .paths import NOTIFY, P
from .processes import spawn, wait
from .procfs import proc_stat
from .units import Unit, command

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from typing import Any


def start_main(
    u: Unit, env: dict[str, str], log: int, deadline: float | None
) -> tuple[str, dict[str, Any]]:
    """Spawn ExecStart, wait as its Type= says: (why it failed or '', its state)."""
    argv, _ = command(u.keys["ExecStart"][0], env)
    sock = None
    if u.type == "notify":
        sock, env["NOTIFY_SOCKET"] = notify_socket(u, env)
    if u.type == "forking":
        # orphans of the forking process reparent to us, so we can find its daemon;
        # imported here as it costs milliseconds
        import ctypes  # noqa: PLC0415

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    pid = spawn(u, argv, env, log)
    main, why = pid, ""
    if u.type == "notify" and sock is not None:
        main, why = wait_ready(sock, pid, deadline)
        sock.close()
    elif u.type == "forking":
        rc = wait(pid, deadline)
        why = "timeout" if rc is None else "failed" if rc else ""
        main = 0 if why else forked_main(u, deadline)
        why = why or ("" if main else "timeout")
    else:
        time.sleep(0.1)
        why = "failed" if os.waitpid(pid, os.WNOHANG)[0] else ""
    f = proc_stat(main) if main else None
    if not why and f is None:
        why = "failed"
    st = {"pid": main, "ticks": int(f[19]), "sid": int(f[3])} if f else {"sid": pid}
    return why, st


def notify_socket(u: Unit, env: dict[str, str]) -> tuple[socket.socket, str]:
    path = P(f"{NOTIFY}/{u.name}.sock")
    os.makedirs(P(NOTIFY), exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    if len(path) > 100:  # too long for sun_path: an abstract socket, named after the path
        name = f"@one-lab/{abs(hash(path))}/{u.name}"
        sock.bind("\0" + name[1:])
        return sock, name
    if os.path.lexists(path):
        os.unlink(path)
    sock.bind(path)
    os.chmod(path, 0o666)  # noqa: S103 - the service may run as another user
    return sock, path


def wait_ready(sock: socket.socket, pid: int, deadline: float | None) -> tuple[int, str]:
    main = pid
    while deadline is None or time.monotonic() < deadline:
        if select.select([sock], [], [], 0.05)[0]:
            for line in sock.recv(4096).decode(errors="replace").splitlines():
                if line.startswith("MAINPID=") and line[8:].isdigit():
                    main = int(line[8:])
                if line == "READY=1":
                    return main, ""
        elif os.waitpid(pid, os.WNOHANG)[0]:
            return 0, "failed"
    return 0, "timeout"


def forked_main(u: Unit, deadline: float | None) -> int:
    pidfile = u.get("PIDFile")
    while True:
        if pidfile:
            try:
                with open(pidfile) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        else:  # the guess of systemd without a PIDFile: the process the fork left behind
            orphans = [p for p in map(int, filter(str.isdigit, os.listdir("/proc"))) if is_ours(p)]
            return min(orphans, default=0)
        if deadline is not None and time.monotonic() > deadline:
            return 0
        time.sleep(0.02)


def is_ours(pid: int) -> bool:
    f = proc_stat(pid)
    return f is not None and f[0] != "Z" and int(f[1]) == os.getpid()

"""A unit's processes: its log, spawning Exec lines in their own session as the unit's
user, waiting for them, and stopping every process of the unit's sessions."""

from __future__ import annotations

import grp
import os
import pwd
import signal
import time

from .paths import LOGS, P
from .procfs import kill_session, members, proc_stat
from .units import Unit, command

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from typing import Any


def journal(name: str, message: str) -> int:
    """Open the unit log for appending, with a systemd-like line of ours first."""
    os.makedirs(P(LOGS), exist_ok=True)
    fd = os.open(P(f"{LOGS}/{name}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
    stamp = time.strftime("%b %d %H:%M:%S")
    os.write(fd, f"{stamp} {os.uname().nodename} systemd[1]: {message}\n".encode())
    return fd


def spawn(u: Unit, argv: list[str], env: dict[str, str], log: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: its own session, no fds of ours, the unit's user
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)  # ignored signals survive exec
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        user, group = u.get("User"), u.get("Group")
        if user or group:
            pw = pwd.getpwnam(user or "root")
            gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
            os.setgid(gid)
            os.initgroups(pw.pw_name, gid)
            os.setuid(pw.pw_uid)
        wd = u.get("WorkingDirectory").lstrip("-")
        if wd:
            os.chdir(env.get("HOME", "/") if wd == "~" else wd)
        os.execvpe(argv[0], argv, env)  # noqa: S606
    except BaseException as e:  # report anything, then die with systemd's 203/EXEC
        os.write(2, f"servicectl: {argv[0] if argv else '?'}: {e}\n".encode())
    os._exit(203)


def reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def wait(pid: int, deadline: float | None) -> int | None:
    """The exit code of our child pid, or None when the deadline passes first."""
    delay = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def run_lines(u: Unit, key: str, env: dict[str, str], log: int, deadline: float | None) -> str:
    """Run each Exec line of key to completion: '' if fine, else 'failed' or 'timeout'."""
    for line in u.keys.get(key, []):
        argv, ignore = command(line, env)
        pid = spawn(u, argv, env, log)
        rc = wait(pid, deadline)
        if rc is None:
            kill_session({pid}, None, signal.SIGKILL)
            wait(pid, None)
            return "timeout"
        if rc and not ignore:
            os.write(log, f"{u.name}: {key} {argv[0]} exited, status={rc}\n".encode())
            return "failed"
    return ""


def stop_processes(u: Unit, st: dict[str, Any]) -> None:
    ticks = st.get("ticks")
    sids = {st["sid"]} if st.get("sid") else set()
    f = proc_stat(st.get("pid") or 0)
    if f and int(f[19]) == ticks:
        sids.add(int(f[3]))  # a daemon may call setsid() after writing its PIDFile
    if not sids:
        return
    sig = u.get("KillSignal", "SIGTERM").upper()
    sig = sig if sig.startswith("SIG") else "SIG" + sig
    timeout = u.timeout("TimeoutStopSec")
    deadline = time.monotonic() + timeout if timeout else None
    kill_session(sids, ticks, getattr(signal, sig, signal.SIGTERM))
    while members(sids, ticks) and (deadline is None or time.monotonic() < deadline):
        reap()
        time.sleep(0.02)
    if kill_session(sids, ticks, signal.SIGKILL):
        time.sleep(0.05)
    reap()

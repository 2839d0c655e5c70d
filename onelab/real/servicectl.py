#!/usr/bin/python3 -IS
"""A small systemctl for lab nodes that run real programs but have no systemd.

It reads real unit files (.service, .timer, .target), runs their Exec* lines as real
processes and keeps per-unit state in /run/one-lab/units/<unit>.json. Main processes get
their own session, /dev/null stdin and the unit log as stdout/stderr, so that they outlive
the SSH session that started them. Timers are only marked active ("waiting"): nothing is
ever scheduled. Not supported: Restart=, sockets, cgroups (a unit's processes are its main
process's session), unit specifiers (%n...), drop-ins, templates, ExecReload.
Every path of this tool's own (unit dirs, state, logs) is prefixed by $ONE_LAB_ROOT if set;
paths inside unit files are the units' own and are used as written.
"""

from __future__ import annotations

import fcntl
import fnmatch
import grp
import json
import os
import pwd
import re
import select
import shlex
import signal
import socket
import sys
import time

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from typing import Any

ROOT = os.environ.get("ONE_LAB_ROOT", "").rstrip("/")
SEARCH = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
STATE, LOGS, NOTIFY = "/run/one-lab/units", "/var/log/one-lab/units", "/run/one-lab/notify"
TYPES = (".service", ".timer", ".target")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SEE = '\nSee "systemctl status {u}" and "journalctl -xeu {u}" for details.'
WHY = {
    "failed": "the control process exited with error code",
    "timeout": "a timeout was exceeded",
    "resources": "of unavailable resources or another system error",
}
VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)|\$\$")
SPAN = re.compile(r"([\d.]+)\s*(us|ms|s|sec|m|min|h|hr|d|)\s*")
SECS = {"us": 1e-6, "ms": 1e-3, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
QUIET = False


def P(path: str) -> str:
    return ROOT + path


def out(line: str) -> None:
    if not QUIET:
        print(line)


def err(line: str) -> None:
    print(line, file=sys.stderr)


def unit_name(arg: str) -> str:
    return arg if arg.endswith(TYPES) or is_glob(arg) else f"{arg}.service"


def is_glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def span(text: str) -> float | None:
    """Seconds of a systemd time span; None for infinity (and 0, which disables it too)."""
    if text.strip() in ("infinity", "0", ""):
        return None
    return sum(float(n) * SECS.get(u, 1) for n, u in SPAN.findall(text))


class Unit:
    def __init__(self, name: str, path: str, masked: bool) -> None:
        self.name, self.path, self.masked = name, path, masked
        self.keys: dict[str, list[str]] = {}
        self.sections: set[str] = set()
        if not masked:
            self.parse(P(path))

    def parse(self, path: str) -> None:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = re.sub(r"\\\n", " ", f.read())  # a trailing backslash continues the line
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                self.sections.add(line.strip("[]"))
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if value:
                self.keys.setdefault(key, []).append(value)
            else:
                self.keys.pop(key, None)  # an empty assignment resets a list

    def get(self, key: str, default: str = "") -> str:
        values = self.keys.get(key)
        return values[-1] if values else default

    def words(self, key: str) -> list[str]:
        return [w for v in self.keys.get(key, []) for w in v.split()]

    def flag(self, key: str) -> bool:
        return self.get(key).lower() in ("yes", "true", "1", "on")

    def timeout(self, key: str) -> float | None:
        for k in (key, "TimeoutSec"):
            if k in self.keys:
                return span(self.get(k))
        # systemd gives oneshot starts no timeout by default
        return None if key == "TimeoutStartSec" and self.type == "oneshot" else 90.0

    @property
    def type(self) -> str:
        return self.get("Type", "simple")

    @property
    def description(self) -> str:
        return self.get("Description", self.name)


def find(name: str) -> Unit | None:
    for d in SEARCH:
        path = f"{d}/{name}"
        if os.path.lexists(P(path)):
            masked = os.path.realpath(P(path)) == "/dev/null"
            if masked or os.path.isfile(P(path)):
                return Unit(name, path, masked)
    return None


def unit_files() -> list[str]:
    names: set[str] = set()
    for d in SEARCH:
        try:
            entries = os.listdir(P(d))
        except OSError:
            continue
        names.update(e for e in entries if e.endswith(TYPES) and "@" not in e)
    return sorted(n for n in names if find(n))


# ------------------------------------------------------------------ state


def load_state(name: str) -> dict[str, Any]:
    try:
        with open(P(f"{STATE}/{name}.json")) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except (OSError, ValueError):
        return {"state": "inactive"}


def save_state(name: str, **state: Any) -> None:
    os.makedirs(P(STATE), exist_ok=True)
    state.setdefault("since", time.time())
    tmp = P(f"{STATE}/.{name}.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, P(f"{STATE}/{name}.json"))  # atomic: a reader sees old or new


def lock(name: str, exclusive: bool = True) -> int:
    """A lock per unit: a long start of one unit does not block another unit's start."""
    os.makedirs(P(STATE), exist_ok=True)
    fd = os.open(P(f"{STATE}/{name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return fd


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


def busy(name: str) -> bool:
    """Whether some systemctl is starting or stopping the unit right now."""
    try:
        fd = os.open(P(f"{STATE}/{name}.lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def effective(name: str, st: dict[str, Any] | None = None) -> str:
    st = st or load_state(name)
    s = str(st.get("state", "inactive"))
    if s == "active" and st.get("pid") and not alive(st["pid"], st.get("ticks")):
        return "failed"  # the main process died and nobody stopped it
    if s in ("activating", "deactivating") and not busy(name):
        return "failed"  # the systemctl doing it was killed
    return s


def sub_state(name: str, st: dict[str, Any]) -> str:
    s = effective(name, st)
    if s == "active":
        return str(st.get("sub", "running"))
    return {"failed": "failed", "activating": "start", "deactivating": "stop"}.get(s, "dead")


def enabled(u: Unit) -> str:
    if u.masked:
        return "masked"
    base = P("/etc/systemd/system")
    dirs = os.listdir(base) if os.path.isdir(base) else []
    wants = [d for d in dirs if d.endswith((".wants", ".requires"))]
    if any(os.path.lexists(f"{base}/{d}/{u.name}") for d in wants):
        return "enabled"
    return "disabled" if "Install" in u.sections else "static"


# ------------------------------------------------------------------ processes


def journal(name: str, message: str) -> int:
    """Open the unit log for appending, with a systemd-like line of ours first."""
    os.makedirs(P(LOGS), exist_ok=True)
    fd = os.open(P(f"{LOGS}/{name}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
    stamp = time.strftime("%b %d %H:%M:%S")
    os.write(fd, f"{stamp} {os.uname().nodename} systemd[1]: {message}\n".encode())
    return fd


def environment(u: Unit) -> dict[str, str] | None:
    env = {"PATH": DEFAULT_PATH, "LANG": os.environ.get("LANG", "C.UTF-8")}
    if u.get("User"):
        pw = pwd.getpwnam(u.get("User"))
        env |= {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name}
        env["SHELL"] = pw.pw_shell
    for line in u.keys.get("Environment", []):
        pairs = [w.partition("=") for w in shlex.split(line)]
        env |= {k: v for k, eq, v in pairs if eq}
    for path in u.keys.get("EnvironmentFile", []):
        try:
            with open(path.lstrip("-")) as f:
                lines = f.read().splitlines()
        except OSError:
            if path.startswith("-"):
                continue
            return None
        for line in lines:
            key, eq, value = line.strip().partition("=")
            if eq and key[:1] not in "#;":
                env[key.strip()] = value.strip().strip("\"'")
    return env


def command(line: str, env: dict[str, str]) -> tuple[list[str], bool]:
    """argv of an Exec line, and whether its failure is ignored (a leading -)."""
    prefix = line[: len(line) - len(line.lstrip("-@+!:"))]
    words = shlex.split(line[len(prefix) :])
    if ":" in prefix:
        return words, "-" in prefix
    argv: list[str] = []
    for w in words:
        if re.fullmatch(r"\$\w+", w):  # a lone $VAR splits into words
            argv += env.get(w[1:], "").split()
        else:
            argv.append(VAR.sub(lambda m: env.get(m[1] or m[2], "") if m[0] != "$$" else "$", w))
    return argv, "-" in prefix


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


# ------------------------------------------------------------------ start / stop


def condition(u: Unit, kind: str) -> bool:
    for key, values in u.keys.items():
        if not key.startswith(kind):
            continue
        test = key[len(kind) :]
        for value in values:
            neg = value.startswith("!")
            path = value.lstrip("|!")
            if test == "PathExists":
                ok = os.path.exists(path)
            elif test == "FileNotEmpty":
                ok = os.path.isfile(path) and os.path.getsize(path) > 0
            elif test == "DirectoryNotEmpty":
                ok = os.path.isdir(path) and bool(os.listdir(path))
            elif test == "PathIsDirectory":
                ok = os.path.isdir(path)
            else:
                continue  # a test we do not know passes
            if ok == neg:
                return False
    return True


def start_one(u: Unit) -> str:
    """Start one unit under its lock: '' when done, else why it failed."""
    fd = lock(u.name)
    try:
        if effective(u.name) == "active":
            return ""
        if not condition(u, "Assert"):
            os.close(journal(u.name, f"Assertion failed for {u.description}."))
            return "assert"
        if not condition(u, "Condition"):
            os.close(journal(u.name, f"{u.description} was skipped because of a condition."))
            return ""
        if u.name.endswith((".timer", ".target")):
            sub = "waiting" if u.name.endswith(".timer") else "active"
            save_state(u.name, state="active", sub=sub)
            return ""
        return start_service(u)
    finally:
        os.close(fd)


def start_service(u: Unit) -> str:
    log = journal(u.name, f"Starting {u.description}...")
    timeout = u.timeout("TimeoutStartSec")
    deadline = time.monotonic() + timeout if timeout else None
    save_state(u.name, state="activating")
    env = environment(u)
    st: dict[str, Any] = {}
    why = "resources" if env is None else run_lines(u, "ExecStartPre", env or {}, log, deadline)
    if not why and env is not None:
        if u.type == "oneshot":
            why = run_lines(u, "ExecStart", env, log, deadline)
        elif not u.keys.get("ExecStart"):
            why = "resources"
        else:
            why, st = start_main(u, env, log, deadline)
        if not why:
            why = run_lines(u, "ExecStartPost", env, log, deadline)
    if why:
        stop_processes(u, st)
        run_lines(u, "ExecStopPost", env or {}, log, None)
        os.write(log, f"{u.name}: Failed with result '{why}'.\n".encode())
        os.close(journal(u.name, f"Failed to start {u.description}."))
        save_state(u.name, state="failed", result=why, sid=st.get("sid", 0))
    elif u.type == "oneshot":
        if u.flag("RemainAfterExit"):
            save_state(u.name, state="active", sub="exited")
        else:
            save_state(u.name, state="inactive")
        os.close(journal(u.name, f"Finished {u.description}."))
    else:
        save_state(u.name, state="active", sub="running", **st)
        os.close(journal(u.name, f"Started {u.description}."))
    os.close(log)
    return why


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


def stop_one(u: Unit) -> None:
    fd = lock(u.name)
    try:
        st = load_state(u.name)
        now = effective(u.name, st)
        if now == "inactive" or st.get("state") == "failed":
            return
        log = journal(u.name, f"Stopping {u.description}...")
        save_state(u.name, **(st | {"state": "deactivating"}))
        env = environment(u) or {}
        env["MAINPID"] = str(st.get("pid", ""))
        timeout = u.timeout("TimeoutStopSec")
        run_lines(u, "ExecStop", env, log, time.monotonic() + timeout if timeout else None)
        stop_processes(u, st)
        run_lines(u, "ExecStopPost", env, log, None)
        if u.get("PIDFile"):
            try:
                os.unlink(u.get("PIDFile"))
            except OSError:
                pass
        save_state(u.name, state="failed" if now == "failed" else "inactive")
        os.close(journal(u.name, f"Stopped {u.description}."))
        os.close(log)
    finally:
        os.close(fd)


def plan(u: Unit) -> list[Unit] | str:
    """u and what it wants/requires, in After=/Before= order; or a missing required unit."""
    units, todo = {u.name: u}, [u]
    while todo:
        for key in ("Requires", "Wants"):
            for name in todo[0].words(key):
                if name in units:
                    continue
                dep = find(name)
                if dep is None or dep.masked:
                    if key == "Requires":
                        return name
                    continue
                units[name] = dep
                todo.append(dep)
        todo.pop(0)
    after = {n: set(units[n].words("After")) & set(units) for n in units}
    for n, unit in units.items():
        for b in set(unit.words("Before")) & set(units):
            after[b].add(n)
    ordered: list[Unit] = []
    while after:  # Kahn's, first discovered first; a cycle is broken at its first unit
        ready = [n for n in after if not after[n]] or [next(iter(after))]
        ordered.append(units[ready[0]])
        del after[ready[0]]
        for deps in after.values():
            deps.discard(ready[0])
    return ordered


def start(names: list[str]) -> int:
    rc = 0
    for name in names:
        u = find(name)
        if u is None:
            err(f"Failed to start {name}: Unit {name} not found.")
            rc = 5
            continue
        if u.masked:
            err(f"Failed to start {name}: Unit {name} is masked.")
            rc = rc or 1
            continue
        order = plan(u)
        if isinstance(order, str):
            err(f"Failed to start {name}: Unit {order} not found.")
            rc = 5
            continue
        failed: set[str] = set()
        for x in order:
            for c in x.words("Conflicts"):
                if (cu := find(c)) is not None and effective(c) != "inactive":
                    stop_one(cu)
            why = "dependency" if set(x.words("Requires")) & failed else start_one(x)
            if why:
                failed.add(x.name)
            if why and x is u:
                rc = rc or 1
                if why == "assert":
                    err(f"Assertion failed on job for {name}.")
                elif why == "dependency":
                    err(f"A dependency job for {name} failed. See 'journalctl -xe' for details.")
                else:
                    err(f"Job for {name} failed because {WHY[why]}." + SEE.format(u=name))
    return rc


def loaded() -> list[str]:
    try:
        names = [f[:-5] for f in os.listdir(P(STATE)) if f.endswith(".json")]
    except OSError:
        return []
    return sorted(n for n in names if effective(n) != "inactive")


def expand(args: list[str], pool: list[str]) -> list[str]:
    names: list[str] = []
    for a in args:
        new = [n for n in pool if fnmatch.fnmatchcase(n, a)] if is_glob(a) else [unit_name(a)]
        names += [n for n in new if n not in names]
    return names


def stop(names: list[str], glob: list[str]) -> tuple[int, list[str]]:
    """Stop names (and what is PartOf/BindsTo them): exit code, the units stopped."""
    rc, done = 0, []
    units = {n: u for n in unit_files() if (u := find(n))}
    for name in names:
        u = units.get(name) or find(name)
        if u is None:
            if name not in glob:
                err(f"Failed to stop {name}: Unit {name} not loaded.")
                rc = 5
            continue
        bound = [
            v
            for v in units.values()
            if name in v.words("PartOf") + v.words("BindsTo") and effective(v.name) == "active"
        ]
        for v in [*bound, u]:
            if v.name not in done:
                done.append(v.name)
                stop_one(v)
    return rc, done


# ------------------------------------------------------------------ commands


def mutate(cmd: str, args: list[str], flags: set[str]) -> int:
    if not args:
        err("Too few arguments.")
        return 1
    if os.geteuid() != 0:
        err(f"Failed to {cmd} {unit_name(args[0])}: Access denied")
        return 1
    globbed = [a for a in args if is_glob(a)]
    names = expand(args, loaded())
    if cmd == "start":
        return start(names)
    if cmd == "stop":
        return stop(names, expand(globbed, loaded()))[0]
    if cmd in ("restart", "reload-or-restart", "try-restart"):
        if cmd == "try-restart":
            names = [n for n in names if effective(n) == "active"]
        _, done = stop([n for n in names if find(n)], names)
        return start(names + [n for n in done if n not in names])
    if cmd == "reset-failed":
        for n in names:
            if effective(n) == "failed":
                save_state(n, state="inactive")
        return 0
    return install(cmd, names, flags)


def install(cmd: str, names: list[str], flags: set[str]) -> int:
    etc = "/etc/systemd/system"
    for name in names:
        u = find(name)
        if u is None and cmd != "unmask":
            err(f"Failed to {cmd} unit: Unit file {name} does not exist.")
            return 1
        links = {f"{etc}/{name}": "/dev/null"} if cmd in ("mask", "unmask") else {}
        if u is not None and cmd in ("enable", "disable"):
            targets = u.words("WantedBy") + u.words("RequiredBy")
            links = {f"{etc}/{t}.wants/{name}": u.path for t in targets}
            if not links and cmd == "enable":
                err(f"The unit files have no installation config (WantedBy=, ...) for {name}.")
        for link, target in links.items():
            if cmd in ("enable", "mask") and not os.path.lexists(P(link)):
                os.makedirs(os.path.dirname(P(link)), exist_ok=True)
                os.symlink(target if target == "/dev/null" else P(target), P(link))
                out(f"Created symlink {link} → {target}.")
            elif cmd in ("disable", "unmask") and os.path.islink(P(link)):
                os.unlink(P(link))
                out(f'Removed "{link}".')
    if "--now" in flags and cmd in ("enable", "disable"):
        return start(names) if cmd == "enable" else stop(names, [])[0]
    return 0


def status(names: list[str], lines: int) -> int:
    rc = 0
    for i, name in enumerate(names):
        u = find(name)
        st = load_state(name)
        if u is None:
            err(f"Unit {name} could not be found.")
            rc = 4
            continue
        s = effective(name, st)
        print("" if i == 0 else "\n", end="")
        dot = {"active": "●", "failed": "×"}.get(s, "○")
        print(f"{dot} {name} - {u.description}")
        if u.masked:
            print(f"     Loaded: masked (Reason: Unit {name} is masked.)")
        else:
            print(f"     Loaded: loaded ({u.path}; {enabled(u)}; preset: enabled)")
        when = time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(st.get("since", 0)))
        since = f" since {when}" if "since" in st else ""
        what = {"active": f"active ({sub_state(name, st)})", "failed": "failed (Result: "}
        what["failed"] += f"{st.get('result', 'exit-code')})"
        print(f"     Active: {what.get(s, s + ' (' + sub_state(name, st) + ')')}{since}")
        if s == "active" and st.get("pid"):
            f = proc_stat(st["pid"])
            comm = open(f"/proc/{st['pid']}/comm").read().strip() if f else "?"
            print(f"   Main PID: {st['pid']} ({comm})")
        try:
            with open(P(f"{LOGS}/{name}.log"), "rb") as f_:
                f_.seek(max(0, os.fstat(f_.fileno()).st_size - 65536))
                tail = f_.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            tail = []
        if tail and lines:
            print("\n" + "\n".join(tail))
        rc = rc or (0 if s == "active" else 3)
    return rc


def properties(name: str) -> dict[str, str]:
    u = find(name)
    st = load_state(name)
    load = "not-found" if u is None else "masked" if u.masked else "loaded"
    return {
        "Id": name,
        "Description": u.description if u else name,
        "LoadState": load,
        "ActiveState": effective(name, st),
        "SubState": sub_state(name, st),
        "MainPID": str(st.get("pid", 0) if effective(name, st) == "active" else 0),
        "Result": str(st.get("result", "success")),
        "UnitFileState": enabled(u) if u else "",
        "FragmentPath": u.path if u and not u.masked else "",
    }


def table(rows: list[list[str]], header: list[str] | None, marks: list[str] | None) -> None:
    """Columns as wide as their widest cell; the last one not padded; marks lead the rows."""
    rows = [header, *rows] if header else rows
    marks = (["  "] if header else []) + marks if marks is not None else [""] * len(rows)
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for mark, row in zip(marks, rows, strict=True):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        print(mark + " ".join(cells).rstrip())


def list_units(flags: set[str], opts: dict[str, list[str]], patterns: list[str]) -> int:
    show_all = "--all" in flags
    types = [t for v in opts.get("--type", []) for t in v.split(",")]
    states = [s for v in opts.get("--state", []) for s in v.split(",")]
    names = sorted(set(unit_files()) | set(loaded()))
    rows, marks = [], []
    for name in names:
        p = properties(name)
        row = [name, p["LoadState"], p["ActiveState"], p["SubState"], p["Description"]]
        if types and not any(name.endswith("." + t) for t in types):
            continue
        if patterns and not any(fnmatch.fnmatchcase(name, unit_name(x)) for x in patterns):
            continue
        if states and not set(states) & set(row[1:4]):
            continue
        if not states and not show_all and row[2] == "inactive":
            continue
        rows.append(row)
        marks.append("● " if row[2] == "failed" or row[1] != "loaded" else "  ")
    legend = "--no-legend" not in flags
    header = ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"] if legend else None
    table(rows, header, None if "--plain" in flags else marks)
    if legend:
        print("\nLOAD   = Reflects whether the unit definition was properly loaded.")
        print("ACTIVE = The high-level unit activation state, i.e. generalization of SUB.")
        print("SUB    = The low-level unit activation state, values depend on unit type.")
        tail = "" if show_all else " Pass --all to see loaded but inactive units, too."
        print(f"{len(rows)} loaded units listed.{tail}")
        print("To show all installed unit files use 'systemctl list-unit-files'.")
    return 0


def list_unit_files(flags: set[str], patterns: list[str]) -> int:
    rows = []
    for name in unit_files():
        if patterns and not any(fnmatch.fnmatchcase(name, unit_name(x)) for x in patterns):
            continue
        u = find(name)
        state = enabled(u) if u else "bad"
        rows.append([name, state, "-" if state in ("static", "masked") else "enabled"])
    legend = "--no-legend" not in flags
    table(rows, ["UNIT FILE", "STATE", "VENDOR PRESET"] if legend else None, None)
    if "--no-legend" not in flags:
        print(f"\n{len(rows)} unit files listed.")
    return 0


def parse_args(argv: list[str]) -> tuple[list[str], set[str], dict[str, list[str]]]:
    valued = {"-p": "--property", "-t": "--type", "-n": "--lines"}
    valued |= {v: v for v in ("--property", "--type", "--state", "--lines")}
    args: list[str] = []
    flags: set[str] = set()
    opts: dict[str, list[str]] = {}
    it = iter(argv)
    for a in it:
        if a in valued:
            opts.setdefault(valued[a], []).append(next(it, ""))
        elif a.startswith("--") and "=" in a:
            key, _, value = a.partition("=")
            opts.setdefault(valued.get(key, key), []).append(value)
        elif a[:2] in ("-p", "-t", "-n") and len(a) > 2:
            opts.setdefault(valued[a[:2]], []).append(a[2:])
        elif a.startswith("-") and len(a) > 1:
            flags.add({"-a": "--all", "-q": "--quiet", "-l": "--full"}.get(a, a))
        else:
            args.append(a)
    return args, flags, opts


def main(argv: list[str]) -> int:
    global QUIET
    args, flags, opts = parse_args(argv)
    QUIET = "--quiet" in flags
    cmd, rest = (args[0], args[1:]) if args else ("list-units", [])
    names = [unit_name(a) for a in rest]
    if cmd in ("start", "stop", "restart", "try-restart", "reload-or-restart", "reset-failed"):
        pass
    elif cmd in ("enable", "disable", "mask", "unmask"):
        pass
    elif cmd == "is-active" or cmd == "is-failed":
        states = [effective(n) for n in names]
        for s in states:
            out(s)
        if cmd == "is-failed":
            return 0 if "failed" in states else 1
        return 0 if states and all(s == "active" for s in states) else 3
    elif cmd == "is-enabled":
        rc = 0
        for n in names:
            u = find(n)
            if u is None:
                err(f"Failed to get unit file state for {n}: No such file or directory")
                rc = 1
                continue
            e = enabled(u)
            out(e)
            rc = rc if e in ("enabled", "static") else 1
        return rc
    elif cmd == "status":
        lines = int((opts.get("--lines") or ["10"])[-1])
        return status(expand(rest, loaded()) if rest else loaded(), lines)
    elif cmd == "show":
        want = [p for v in opts.get("--property", []) for p in v.split(",") if p]
        for i, n in enumerate(names):
            props = properties(n)
            print("" if i == 0 else "\n", end="")
            for key in want or list(props):
                value = props.get(key, "")
                print(value if "--value" in flags else f"{key}={value}")
        return 0
    elif cmd == "list-units":
        return list_units(flags, opts, rest)
    elif cmd == "list-unit-files":
        return list_unit_files(flags, rest)
    elif cmd == "daemon-reload":
        return 0
    else:
        err(f'Unknown command verb "{cmd}".')
        return 1
    if "--no-block" in flags and os.fork():
        return 0  # the forked child below does the job, detached from our caller
    if "--no-block" in flags:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    return mutate(cmd, rest, flags)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

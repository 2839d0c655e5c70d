"""A node on the host: its directory, overlays, sshd config, accounts and keys; start and stop.

Everything a node's sshd reads lives in the node's own overlay upper layers, so the start
script mounts the overlays first and only then covers /tmp (the lab directory may be under
/tmp). Every step of the start script execs, so the Popen pid is the sshd listener's pid.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import procs
from .accounts import Login, prepare_login, write_accounts
from .errors import LabError
from .node_ssh import PATH, SSHD_CONFIG, NodeFiles, write_root_ssh, write_sshd
from .overlay import mkdirs_like, write_file

OVERLAID = ("etc", "usr", "var", "opt", "root")
UNSHARE = "/usr/bin/unshare"
SSHD = "/usr/sbin/sshd"
SHARED_MOUNT = "/var/lib/one-lab/shared"
# The lab directory must not lie where a node mounts something of its own.
FORBIDDEN_ROOTS = ("/etc", "/usr", "/var", "/opt", "/root", "/run", "/proc", "/sys", "/dev")

UNSAFE_CHARS = set(" \t\n,:=\\'\"#")


def check_lab_dir(path: Path) -> Path:
    """Absolute, resolved lab directory that a node's mounts can neither hide nor misparse."""
    path = path.resolve()
    text = str(path)
    if UNSAFE_CHARS & set(text):
        raise LabError(f"lab directory {text!r} must not contain spaces, quotes or ,:=\\#")
    for root in FORBIDDEN_ROOTS:
        if text == root or text.startswith(root + "/"):
            raise LabError(f"lab directory {text} must not be under {root} (a node mounts it)")
    if text == "/":
        raise LabError("lab directory must not be /")
    return path


def node_dir(lab_dir: Path, name: str) -> Path:
    return lab_dir / "nodes" / name


def prepare(
    lab_dir: Path,
    name: str,
    address: str,
    files: NodeFiles,
    host_key: tuple[bytes, str],
    node_known: str,
    force_command: bool = True,
    login: Login | None = None,
    mounts: tuple[str, ...] = (),
) -> Path:
    """Create (or refresh) nodes/<name>/ with everything the node's sshd and sessions need.
    Returns the upper directory (nodes/<name>/upper)."""
    nd = node_dir(lab_dir, name)
    upper = nd / "upper"
    upper.mkdir(parents=True, exist_ok=True)
    for sub in OVERLAID:
        (nd / "work" / sub).mkdir(parents=True, exist_ok=True)
        mkdirs_like(upper, "/", sub)
    tmp = nd / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    write_sshd(upper, address, files, host_key, force_command)
    write_accounts(upper / "etc", login)
    _write_names(upper / "etc", name, files.peers)
    write_root_ssh(upper, files, node_known)
    write_file(upper / "root" / ".bashrc", f"# lab node {name}: hides the host's /root/.bashrc\n")
    if login is not None:
        prepare_login(upper, login, files.client_public)
    mkdirs_like(upper, "/", "var/lib/one-lab/shared")
    (nd / "fstab").write_text(fstab(lab_dir, name, mounts))
    return upper


def _write_names(etc: Path, name: str, peers: dict[str, str]) -> None:
    """/etc/hosts (the host's, and every node of the lab) and /etc/hostname."""
    with open("/etc/hosts", encoding="utf-8") as fh:
        hosts = fh.read()
    lines = "".join(f"{addr} {peer}\n" for peer, addr in peers.items())
    write_file(etc / "hosts", f"{hosts.rstrip()}\n# lab nodes\n{lines}")
    write_file(etc / "hostname", name + "\n")


def fstab(lab_dir: Path, name: str, mounts: tuple[str, ...] = ()) -> str:
    """The node's mounts, in order, for one `mount --all --fstab` (one exec, not ten).

    Every source under the lab directory is mounted before /tmp is covered; /run/sshd and
    /run/lock are small tmpfs mounts so that no mkdir has to be run. `mounts`: more fstab
    lines, after the overlays (the real tier's read-only package repository)."""
    nd = node_dir(lab_dir, name)
    lines = [
        f"lab-{sub} /{sub} overlay "
        f"lowerdir=/{sub},upperdir={nd}/upper/{sub},workdir={nd}/work/{sub} 0 0"
        for sub in OVERLAID
    ]
    lines += [
        "lab-run /run tmpfs mode=0755,nosuid,nodev 0 0",
        "lab-sshd /run/sshd tmpfs mode=0755,size=64k,X-mount.mkdir=0755 0 0",
        "lab-lock /run/lock tmpfs mode=1777,nosuid,nodev,size=5m,X-mount.mkdir=0755 0 0",
        f"{lab_dir}/shared {SHARED_MOUNT} none bind 0 0",
        *mounts,
        f"{nd}/tmp /tmp none bind 0 0",
    ]
    return "\n".join(lines) + "\n"


def start_script(lab_dir: Path, name: str) -> str:
    table = node_dir(lab_dir, name) / "fstab"
    return (
        "set -e\n"
        f"mount --all --fstab {shlex.quote(str(table))}\n"
        f"echo {shlex.quote(name)} > /proc/sys/kernel/hostname\n"
        f"exec {SSHD} -D -e -f {SSHD_CONFIG}"
    )


def start(lab_dir: Path, name: str, enter: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start the node's sshd in a fresh mount+UTS namespace; record its pid.

    `enter` prefixes the command (nsenter into the network namespace of a lab behind a
    jump node); it execs, so the pid is still the sshd listener's."""
    nd = node_dir(lab_dir, name)
    with open(nd / "sshd.log", "ab") as log:
        proc = subprocess.Popen(
            [*(enter or []), UNSHARE, "--mount", "--uts", "--propagation", "private",
             "/bin/sh", "-ec", start_script(lab_dir, name)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={"PATH": PATH, "LANG": "C.UTF-8"},
        )  # fmt: skip
    (nd / "pid").write_text(f"{proc.pid}\n")
    return proc


def listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(
    lab_dir: Path,
    targets: dict[str, tuple[str, int]],
    procs_by_name: dict[str, subprocess.Popen[bytes]],
    timeout: float = 30.0,
    accepts: Callable[[str, int], bool] | None = None,
) -> None:
    """Return when every node accepts TCP; a node whose sshd exited fails at once.
    `accepts(address, port)` replaces the TCP probe (nodes in another network namespace)."""
    probe = accepts or listening
    pending = dict(targets)
    deadline = time.monotonic() + timeout
    while pending:
        for name, (address, port) in list(pending.items()):
            if probe(address, port):
                del pending[name]
                continue
            proc = procs_by_name.get(name)
            if proc is not None and proc.poll() is not None:
                raise LabError(f"node {name} did not start: {log_tail(lab_dir, name)}")
        if pending:
            if time.monotonic() > deadline:
                name = sorted(pending)[0]
                raise LabError(f"node {name} not listening after {timeout:.0f}s")
            time.sleep(0.01)


def log_tail(lab_dir: Path, name: str) -> str:
    try:
        lines = (node_dir(lab_dir, name) / "sshd.log").read_text(errors="replace").splitlines()
    except OSError:
        return "(no sshd.log)"
    return " | ".join(lines[-3:]) or "(empty sshd.log)"


def read_pid(lab_dir: Path, name: str) -> int | None:
    try:
        return int((node_dir(lab_dir, name) / "pid").read_text().strip())
    except (OSError, ValueError):
        return None


def listener_pid(lab_dir: Path, name: str) -> int | None:
    """The node's sshd listener pid, if it is alive and really this node's."""
    pid = read_pid(lab_dir, name)
    if pid is not None and procs.pid_in_lab(pid, procs.node_marker(str(lab_dir / "nodes"), name)):
        return pid
    return None


def stop(lab_dir: Path, name: str) -> None:
    """Stop a node: its listener and every process of its mount namespace (its sessions)."""
    pid = read_pid(lab_dir, name)
    marker = procs.node_marker(str(lab_dir / "nodes"), name)
    first = [pid] if pid is not None and procs.pid_in_lab(pid, marker) else []
    procs.stop_namespaces(marker, first)
    (node_dir(lab_dir, name) / "pid").unlink(missing_ok=True)


def stop_all(lab_dir: Path, names: list[str]) -> int:
    """Stop every node of the lab; returns how many namespaces were stopped."""
    nodes_dir = str(lab_dir / "nodes")
    marker = procs.node_marker(nodes_dir)
    first = []
    for name in names:
        pid = read_pid(lab_dir, name)
        if pid is not None and procs.pid_in_lab(pid, procs.node_marker(nodes_dir, name)):
            first.append(pid)
    count = procs.stop_namespaces(marker, first)
    for name in names:
        (node_dir(lab_dir, name) / "pid").unlink(missing_ok=True)
    return count


def remove_stale(lab_dir: Path) -> None:
    """Remove what an earlier (stopped) lab left in lab_dir."""
    for sub in ("nodes", "shared"):
        shutil.rmtree(lab_dir / sub, ignore_errors=True)

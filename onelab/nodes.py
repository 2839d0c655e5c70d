"""A node on the host: its directory, overlays, sshd config, accounts and keys; start and stop.

Everything a node's sshd reads lives in the node's own overlay upper layers, so the start
script mounts the overlays first and only then covers /tmp (the lab directory may be under
/tmp). Every step of the start script execs, so the Popen pid is the sshd listener's pid.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .errors import LabError

OVERLAID = ("etc", "usr", "var", "opt", "root")
UNSHARE = "/usr/bin/unshare"
SSHD = "/usr/sbin/sshd"
SSHD_CONFIG = "/etc/ssh/sshd_config.lab"
HOST_KEY = "/etc/ssh/lab_host_ed25519_key"
SESSION = "/usr/lib/one-lab/session"
SHARED_MOUNT = "/var/lib/one-lab/shared"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ONEADMIN_ID = 9869
ONEADMIN_PASSWD = f"oneadmin:x:{ONEADMIN_ID}:{ONEADMIN_ID}:OpenNebula:/var/lib/one:/bin/bash"
# The lab directory must not lie where a node mounts something of its own.
FORBIDDEN_ROOTS = ("/etc", "/usr", "/var", "/opt", "/root", "/run", "/proc", "/sys", "/dev")
UNSAFE_CHARS = set(" \t\n,:=\\'\"#")


LOGIN_ID = 1500
SUDOERS = "etc/sudoers.d/lab-admin"


@dataclass(frozen=True)
class Login:
    """A non-root login user on every node (home under /var/lib, which is overlaid) with
    sudo rights: without a password, or with one (`password_hash`, a crypt(3) string)."""

    name: str
    password_hash: str | None = None

    @property
    def home(self) -> str:
        return f"/var/lib/{self.name}"

    def sudoers(self) -> str:
        rule = "ALL=(ALL) ALL" if self.password_hash else "ALL=(ALL) NOPASSWD: ALL"
        return f"# lab: {self.name} becomes root with sudo\n{self.name} {rule}\n"


@dataclass(frozen=True)
class NodeFiles:
    """What the lab hands every node: the client key pair and the lab's known_hosts."""

    client_private: bytes
    client_public: str
    known_hosts: str
    port: int
    peers: dict[str, str]  # name -> address of every node of the lab


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


def _mkdirs_like(upper: Path, host_root: str, rel: str, default_mode: int = 0o755) -> Path:
    """Create upper/rel component by component with the host directory's mode and owner,
    because the overlay shows the upper directory's attributes."""
    current = upper
    host = Path(host_root)
    for part in Path(rel).parts:
        current = current / part
        host = host / part
        if current.is_dir():
            continue
        current.mkdir()
        try:
            st = host.stat()
            os.chmod(current, st.st_mode & 0o7777)
            os.chown(current, st.st_uid, st.st_gid)
        except FileNotFoundError:
            os.chmod(current, default_mode)
    return current


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def _account_file(
    host_path: str, extra: str, fix_root: bool = False, drop: tuple[str, ...] = ("oneadmin",)
) -> tuple[str, os.stat_result]:
    st = os.stat(host_path)
    with open(host_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    lines = [ln for ln in lines if ln.split(":", 1)[0] not in drop]
    if fix_root:  # sshd refuses a locked root ('!' password) even for public keys (UsePAM no)
        lines = ["root:*:" + ln.split(":", 2)[2] if ln.startswith("root:!") else ln for ln in lines]
    return "\n".join([*lines, extra]) + "\n", st


def sshd_config(address: str, port: int, force_command: bool = True) -> str:
    lines = [
        f"ListenAddress {address}:{port}",
        f"HostKey {HOST_KEY}",
        "PidFile none",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AuthorizedKeysFile /root/.ssh/authorized_keys %h/.ssh/authorized_keys",
        "StrictModes no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "MaxSessions 100",
        "MaxStartups 200:30:400",
        "Subsystem sftp internal-sftp",
        f"SetEnv PATH={PATH}",
        "AcceptEnv LANG LC_*",
    ]
    if force_command:
        lines.append(f"ForceCommand {SESSION}")
    return "\n".join(lines) + "\n"


def ssh_client_config(address: str, files: NodeFiles) -> str:
    targets = " ".join([*files.peers.values(), *files.peers])
    return (
        "# lab: node-to-node ssh as root, like a real HA cluster\n"
        f"Host {targets}\n"
        f"    Port {files.port}\n"
        "Host *\n"
        f"    BindAddress {address}\n"
        "    StrictHostKeyChecking yes\n"
        "    BatchMode yes\n"
        "    GSSAPIAuthentication no\n"
    )


def node_known_hosts(files: NodeFiles, host_keys: dict[str, str]) -> str:
    """The nodes' known_hosts: each peer by address and by name."""
    return "".join(
        f"[{addr}]:{files.port},[{name}]:{files.port} {host_keys[name]}\n"
        for name, addr in files.peers.items()
    )


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
        _mkdirs_like(upper, "/", sub)
    tmp = nd / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)

    ssh_dir = _mkdirs_like(upper, "/", "etc/ssh")
    _write(ssh_dir / "sshd_config.lab", sshd_config(address, files.port, force_command))
    _write(ssh_dir / "lab_host_ed25519_key", host_key[0], 0o600)
    _write(ssh_dir / "lab_host_ed25519_key.pub", host_key[1] + "\n")
    conf_d = _mkdirs_like(upper, "/", "etc/ssh/ssh_config.d")
    _write(conf_d / "lab.conf", ssh_client_config(address, files))

    etc = upper / "etc"
    accounts = {
        "passwd": ONEADMIN_PASSWD,
        "group": f"oneadmin:x:{ONEADMIN_ID}:",
        "shadow": "oneadmin:*:20000:0:99999:7:::",
        "gshadow": "oneadmin:*::",
    }
    drop: tuple[str, ...] = ("oneadmin",)
    if login is not None:
        drop = ("oneadmin", login.name)
        # '*' (no password) rather than '!': sshd with UsePAM no refuses a locked account.
        accounts["passwd"] += f"\n{login.name}:x:{LOGIN_ID}:{LOGIN_ID}:lab:{login.home}:/bin/bash"
        accounts["group"] += f"\n{login.name}:x:{LOGIN_ID}:"
        accounts["shadow"] += f"\n{login.name}:{login.password_hash or '*'}:20000:0:99999:7:::"
        accounts["gshadow"] += f"\n{login.name}:*::"
    for fname, extra in accounts.items():
        text, st = _account_file(f"/etc/{fname}", extra, fname == "shadow", drop)
        _write(etc / fname, text, st.st_mode & 0o7777)
        os.chown(etc / fname, st.st_uid, st.st_gid)
    with open("/etc/hosts", encoding="utf-8") as fh:
        hosts = fh.read()
    peers = "".join(f"{addr} {peer}\n" for peer, addr in files.peers.items())
    _write(etc / "hosts", f"{hosts.rstrip()}\n# lab nodes\n{peers}")
    _write(etc / "hostname", name + "\n")

    dot_ssh = _mkdirs_like(upper, "/", "root/.ssh", 0o700)
    _write(dot_ssh / "id_ed25519", files.client_private, 0o600)
    _write(dot_ssh / "id_ed25519.pub", files.client_public + "\n")
    _write(dot_ssh / "authorized_keys", files.client_public + "\n", 0o600)
    _write(dot_ssh / "known_hosts", node_known)
    _write(upper / "root" / ".bashrc", f"# lab node {name}: hides the host's /root/.bashrc\n")
    if login is not None:
        _prepare_login(upper, login, files.client_public)
    _mkdirs_like(upper, "/", "var/lib/one-lab/shared")
    (nd / "fstab").write_text(fstab(lab_dir, name, mounts))
    return upper


def _prepare_login(upper: Path, login: Login, client_public: str) -> None:
    home = _mkdirs_like(upper, "/", login.home.lstrip("/"), 0o750)
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    _write(dot_ssh / "authorized_keys", client_public + "\n", 0o600)
    _write(home / ".bashrc", f"# lab login user {login.name}\n")
    for path in (home, dot_ssh, dot_ssh / "authorized_keys", home / ".bashrc"):
        os.chown(path, LOGIN_ID, LOGIN_ID)
    _mkdirs_like(upper, "/", "etc/sudoers.d", 0o750)
    _write(upper / SUDOERS, login.sudoers(), 0o440)


def password_hash(password: str) -> str:
    """A SHA-512 crypt(3) hash for /etc/shadow (the password goes to openssl on stdin)."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith("$6$"):
        raise LabError(f"openssl passwd failed: {done.stderr.strip()}")
    return done.stdout.strip()


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


def _accepts(address: str, port: int) -> bool:
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
    probe = accepts or _accepts
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

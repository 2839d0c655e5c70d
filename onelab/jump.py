"""A lab behind a jump node (`up --jump`): the nodes are reachable only through `jump1`.

Every node, `jump1` included, runs in one network namespace of its own, created by the
gate (`gate.py`). On the host, only the jump node's address answers: the gate listens
there and forwards to jump1's sshd inside. A direct connection to any other node is
refused (nothing listens on its address on the host), which is what a bastion-only
network looks like; SSH's ProxyJump (a direct-tcpip channel through jump1) gets in.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from pathlib import Path

from . import procs
from .errors import LabError

NAME = "jump1"
HOST = 240  # the jump node's address in the lab's /24
GATE = Path(__file__).with_name("gate.py")
GATE_PID = "gate.pid"
SSH_CONFIG = "ssh_config"
UNSHARE = "/usr/bin/unshare"
NSENTER = "/usr/bin/nsenter"


def start_gate(lab_dir: Path, address: str, port: int) -> subprocess.Popen[bytes]:
    """Start the gate (it creates the namespace); return once it forwards."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(128)
        fd = listener.fileno()
        with open(lab_dir / "gate.log", "ab") as log:
            proc = subprocess.Popen(
                [UNSHARE, "--net", "/usr/bin/python3", "-I", str(GATE), str(fd), address,
                 str(port), str(lab_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                pass_fds=(fd,),
                start_new_session=True,
            )  # fmt: skip
    finally:
        listener.close()
    (lab_dir / GATE_PID).write_text(f"{proc.pid}\n")
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if ready else b""
    proc.stdout.close()
    if line.strip() != b"ready":
        stop_gate(lab_dir)
        proc.wait()
        raise LabError(f"the jump gate did not start: see {lab_dir / 'gate.log'}")
    return proc


def gate_pid(lab_dir: Path) -> int | None:
    """The gate's pid, if it is alive and really this lab's."""
    try:
        pid = int((lab_dir / GATE_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(GATE).encode() in cmdline and str(lab_dir).encode() in cmdline:
        return None if procs.is_zombie(pid) else pid
    return None


def stop_gate(lab_dir: Path) -> None:
    pid = gate_pid(lab_dir)
    if pid is not None:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while gate_pid(lab_dir) is not None and time.monotonic() < deadline:
            procs.reap([pid])
            time.sleep(0.01)
    (lab_dir / GATE_PID).unlink(missing_ok=True)


def enter(lab_dir: Path) -> list[str]:
    """The argv prefix that runs a program in the lab's namespace."""
    pid = gate_pid(lab_dir)
    if pid is None:
        raise LabError(f"the jump gate of {lab_dir} is not running")
    return [NSENTER, f"--net=/proc/{pid}/ns/net", "--"]


def listening_in(pid: int, address: str, port: int) -> bool:
    """Does anything listen on address:port in the network namespace of `pid`?"""
    want = socket.inet_aton(address)[::-1].hex().upper() + f":{port:04X}"
    try:
        with open(f"/proc/{pid}/net/tcp", encoding="ascii") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[1] == want and fields[3] == "0A":
            return True
    return False


def ssh_config(
    lab_dir: Path, jump_address: str, nodes: dict[str, str], port: int, user: str
) -> str:
    """DIR/ssh_config: every node by name, through jump1, with the lab's key."""
    key = lab_dir / "id_ed25519"
    out = [
        "# lab: every node is reachable only through the jump node",
        f"Host {NAME}",
        f"    HostName {jump_address}",
        f"    Port {port}",
        f"    User {user}",
        f"    IdentityFile {key}",
        "",
    ]
    for name, address in nodes.items():
        out += [
            f"Host {name}",
            f"    HostName {address}",
            f"    Port {port}",
            f"    User {user}",
            f"    IdentityFile {key}",
            f"    ProxyJump {NAME}",
            "",
        ]
    return "\n".join(out)

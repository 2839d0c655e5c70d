"""SSH to a lab's nodes as root: strict host keys, the lab's key only, one kept-open
connection per node (through the jump node when the lab has one)."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path
from typing import Any

import paramiko

from . import jump
from .description import LabDescription
from .nodes import listening


class LabConnections(LabDescription):
    """The lab's kept-open SSH connections, and commands run over them."""

    def __init__(self, lab_dir: Path, info: dict[str, Any]) -> None:
        super().__init__(lab_dir, info)
        self._conns: dict[str, paramiko.SSHClient] = {}
        self._lock = threading.RLock()  # connect() through the jump node re-enters

    def _accepts(self, address: str, port: int) -> bool:
        if self.jump and address != self.jump["address"]:
            gate = jump.gate_pid(self.dir)
            return gate is not None and jump.listening_in(gate, address, port)
        return listening(address, port)

    def connect(self, name: str, timeout: float = 10.0) -> paramiko.SSHClient:
        """A new SSH connection to a node as root: strict host keys, the lab's key only
        (through the jump node when the lab has one)."""
        address = self.address(name)
        sock: socket.socket | paramiko.Channel
        if self.jump and name != self.jump["name"]:
            transport = self._client(self.jump["name"]).get_transport()
            assert transport is not None
            sock = transport.open_channel(
                "direct-tcpip", (address, self.port), ("127.0.0.1", 0), timeout=timeout
            )
        else:
            sock = socket.create_connection((address, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                address,
                port=self.port,
                username="root",
                key_filename=str(self.identity),
                look_for_keys=False,
                allow_agent=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                sock=sock,
            )
        except BaseException:
            client.close()
            sock.close()
            raise
        return client

    def _client(self, name: str) -> paramiko.SSHClient:
        with self._lock:
            client = self._conns.get(name)
            transport = client.get_transport() if client else None
            if client is None or transport is None or not transport.is_active():
                if client is not None:
                    client.close()
                client = self._conns[name] = self.connect(name)
            return client

    def run(self, name: str, command: str, timeout: float = 30) -> tuple[int, str, str]:
        """Run a command on a node over its kept-open connection; (rc, stdout, stderr).

        Raises TimeoutError after `timeout` seconds and paramiko.SSHException when the
        connection closes before the command's exit status arrives."""
        client = self._client(name)
        transport = client.get_transport()
        assert transport is not None
        chan = transport.open_session(timeout=timeout)
        try:
            chan.exec_command(command)
            chan.shutdown_write()
            return _drain(chan, name, timeout)
        finally:
            chan.close()

    def close_connections(self) -> None:
        with self._lock:
            for client in self._conns.values():
                client.close()
            self._conns.clear()

    def close_connection(self, name: str) -> None:
        """Close the kept-open connection to a node, if there is one."""
        with self._lock:
            client = self._conns.pop(name, None)
        if client is not None:
            client.close()


def _drain(chan: paramiko.Channel, name: str, timeout: float) -> tuple[int, str, str]:
    """Read stdout and stderr as they come (neither can fill its window), then the status."""
    out: list[bytes] = []
    err: list[bytes] = []
    deadline = time.monotonic() + timeout

    def read_ready() -> None:
        while chan.recv_ready():
            out.append(chan.recv(65536))
        while chan.recv_stderr_ready():
            err.append(chan.recv_stderr(65536))

    while not chan.eof_received and not chan.closed:
        read_ready()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{name}: command timed out after {timeout:g}s")
        select.select([chan], [], [], min(remaining, 0.5))
    read_ready()
    if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"{name}: no exit status after {timeout:g}s")
    read_ready()
    transport = chan.get_transport()
    if chan.exit_status == -1 and (transport is None or not transport.is_active()):
        raise paramiko.SSHException(f"connection to {name} closed")
    rc = chan.recv_exit_status()
    return rc, b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace")

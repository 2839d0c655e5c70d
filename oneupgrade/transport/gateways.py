"""Jump hosts (ProxyJump): one connection per gateway path, shared by the nodes behind it."""

from __future__ import annotations

import socket
import threading

import paramiko

from oneupgrade.errors import ConnectionFailed
from oneupgrade.inventory.model import SshSettings
from oneupgrade.transport.connect import handshake, tcp_connect
from oneupgrade.transport.sshconfig import Hop


class Gateways:
    """Connections to jump hosts, opened once and shared by every node behind them.

    Keyed by the whole path (`j1`, then `j1 -> j2`): a node behind `j1,j2` and another
    behind `j1` share the connection to j1. A connection is closed when the last node
    using it closes; `opened` counts the jump connections ever opened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path_locks: dict[tuple[Hop, ...], threading.Lock] = {}
        self._clients: dict[tuple[Hop, ...], paramiko.SSHClient] = {}
        self._users: dict[tuple[Hop, ...], set[str]] = {}
        self.opened = 0

    def channel(
        self, node: str, jumps: tuple[Hop, ...], target: Hop, settings: SshSettings
    ) -> paramiko.Channel:
        """A direct-tcpip channel from the last jump host to `target`."""
        with self._lock:
            for i in range(1, len(jumps) + 1):
                self._users.setdefault(jumps[:i], set()).add(node)
        transport = self._transport(node, jumps, settings)
        return _forward(node, transport, jumps[-1], target, settings.connect_timeout)

    def _transport(
        self, node: str, path: tuple[Hop, ...], settings: SshSettings
    ) -> paramiko.Transport:
        with self._lock:
            path_lock = self._path_locks.setdefault(path, threading.Lock())
        with path_lock:  # one opener per path; the others wait and share it
            client = self._clients.get(path)
            transport = client.get_transport() if client is not None else None
            if transport is not None and transport.is_active():
                return transport
            hop = path[-1]
            chain = " -> ".join(str(h) for h in path)
            where = f"jump host {chain}"
            sock: socket.socket | paramiko.Channel
            if len(path) == 1:
                sock = tcp_connect(node, hop, settings.connect_timeout)
            else:
                before = self._transport(node, path[:-1], settings)
                sock = _forward(node, before, path[-2], hop, settings.connect_timeout)
            client = handshake(node, where, hop, sock, settings)
            self._clients[path] = client
            self.opened += 1
            transport = client.get_transport()
            assert transport is not None
            return transport

    def release(self, node: str, jumps: tuple[Hop, ...]) -> None:
        """`node` no longer needs these jump hosts; close the connections nobody uses."""
        closing = []
        with self._lock:
            for i in range(len(jumps), 0, -1):
                users = self._users.get(jumps[:i])
                if users is None:
                    continue
                users.discard(node)
                if not users:
                    del self._users[jumps[:i]]
                    client = self._clients.pop(jumps[:i], None)
                    if client is not None:
                        closing.append(client)
        for client in closing:
            client.close()

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
            self._users.clear()
        for client in reversed(clients):
            client.close()


# The jump connections of this process (one runbook run): every Node shares them.
GATEWAYS = Gateways()


def shared_gateways() -> Gateways:
    return GATEWAYS


def _forward(
    node: str, transport: paramiko.Transport, jump: Hop, target: Hop, timeout: float
) -> paramiko.Channel:
    try:
        return transport.open_channel(
            "direct-tcpip", (target.hostname, target.port), ("127.0.0.1", 0), timeout=timeout
        )
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectionFailed(
            node, f"jump host {jump} cannot reach {target.hostname}:{target.port}: {exc}"
        ) from None

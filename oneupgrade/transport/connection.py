"""A node's one persistent SSH connection: opened (and retried), sudo mode, channels.

`Node` runs its commands over it. Opened directly or through the shared jump hosts;
after the handshake, sudo is checked once (`sudo.check_become`): whether the
password must be fed to it decides every command line this connection sends.
"""

from __future__ import annotations

import socket
import threading
import time

import paramiko

from oneupgrade.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    HostKeyRejected,
    Interrupted,
)
from oneupgrade.inventory.model import Host, SshSettings
from oneupgrade.transport.connect import handshake, tcp_connect
from oneupgrade.transport.gateways import Gateways
from oneupgrade.transport.sshconfig import Hop, Route, SshConfigError, load_config, resolve_route
from oneupgrade.transport.sudo import check_become, command_line


class Connection:
    """The connection half of a `Node` (which declares these attributes as its fields)."""

    host: Host
    settings: SshSettings
    become_password: str | None
    gateways: Gateways
    halt: threading.Event | None
    connections_opened: int
    _client: paramiko.SSHClient | None
    _route: Route | None
    _jumps: tuple[Hop, ...]
    _sudo_feed: bool
    _lock: threading.Lock

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def address(self) -> str:
        return self.host.address

    @property
    def role(self) -> str:
        return self.host.role

    # -- connection ----------------------------------------------------------------

    def connect(self, attempts: int = 3) -> None:
        """Open the connection; transient network errors are retried with backoff."""
        with self._lock:
            if self._client is not None and self._is_active(self._client):
                return
            last: Exception | None = None
            for attempt in range(attempts):
                try:
                    self._client = self._open()
                    return
                except (HostKeyRejected, AuthenticationFailed):
                    raise
                except ConnectionFailed as exc:
                    last = exc
                    time.sleep(0.5 * (attempt + 1))
            assert last is not None
            raise last

    @property
    def route(self) -> Route:
        """How this node is reached: its HostName/Port/User/keys and the jump hosts."""
        if self._route is None:
            try:
                self._route = resolve_route(self.host, self.settings, load_config(self.settings))
            except SshConfigError as exc:
                raise ConnectionFailed(self.name, str(exc)) from None
        return self._route

    def _open(self) -> paramiko.SSHClient:
        route = self.route
        where = f"{self.name} ({route.target.hostname}:{route.target.port})"
        try:
            if route.jumps:
                where = where[:-1] + " via " + " -> ".join(str(j) for j in route.jumps) + ")"
                self._jumps = route.jumps
                sock: socket.socket | paramiko.Channel = self.gateways.channel(
                    self.name, route.jumps, route.target, self.settings
                )
            else:
                sock = tcp_connect(self.name, route.target, self.settings.connect_timeout)
            client = handshake(self.name, where, route.target, sock, self.settings)
        except BaseException:
            if self._jumps:
                self.gateways.release(self.name, self._jumps)
                self._jumps = ()
            raise
        try:
            self._sudo_feed = self._uses_sudo and check_become(
                client, self.name, where, route.target.user, self.settings, self.become_password
            )
        except BaseException:
            client.close()
            raise
        self.connections_opened += 1
        return client

    @property
    def _uses_sudo(self) -> bool:
        return self.settings.become == "sudo" and self.route.target.user != "root"

    @staticmethod
    def _is_active(client: paramiko.SSHClient) -> bool:
        transport = client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._jumps:
                self.gateways.release(self.name, self._jumps)
                self._jumps = ()

    # -- what each command's channel needs -------------------------------------------

    def _wrap(self, command: str, deadline: float, user: str | None) -> str:
        """The command line sent (see `sudo.command_line`), as this connection's sudo needs."""
        return command_line(command, deadline, user, sudo=self._uses_sudo, feed=self._sudo_feed)

    def _password_line(self) -> bytes:
        """What sudo reads first on stdin when it needs the password fed (else nothing)."""
        if self._sudo_feed and self._uses_sudo and self.become_password is not None:
            return self.become_password.encode() + b"\n"
        return b""

    def _check_halt(self) -> None:
        if self.halt is not None and self.halt.is_set():
            raise Interrupted(self.name)

    def _channel(self) -> paramiko.Channel:
        self._check_halt()  # also before the retry of a read-only probe on a new connection
        if self._client is None or not self._is_active(self._client):
            self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        assert transport is not None
        try:
            return transport.open_session(timeout=self.settings.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError):
            # The connection died between commands: nothing was sent, so reconnecting is safe.
            self.close()
            self.connect()
            assert self._client is not None
            transport = self._client.get_transport()
            assert transport is not None
            return transport.open_session(timeout=self.settings.connect_timeout)

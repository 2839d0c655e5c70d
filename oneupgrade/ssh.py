"""SSH to the cluster's nodes: one persistent paramiko connection per node.

Lifecycle: a `Node` is created unconnected; `connect()` opens the connection
(TCP_NODELAY set before the handshake, host key checked against the pinned
known_hosts, unknown or changed keys refused); `run()` opens one channel per
command on that connection; `close()` ends it. Connecting may be retried;
commands are never retried: a connection lost during a command leaves its
outcome unknown, and `ConnectionLost` says so.

Quoting: every command is a shell string run by the node's login shell. It is
wrapped as `timeout -k 5 T sh -c '<command>'` so that its deadline also holds on
the node (closing a channel without a pty does not kill the remote process), and
under `sudo` when the inventory asks for it. Callers quote arguments with
`shlex.quote`; the wrapping quotes the whole command once more.
"""

from __future__ import annotations

import select
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

from oneupgrade.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimedOut,
    ConnectionFailed,
    ConnectionLost,
    HostKeyRejected,
)
from oneupgrade.inventory import Host, SshSettings

# How long past the remote deadline the client waits before giving up on the channel.
_GRACE = 10.0


@dataclass(frozen=True)
class CommandResult:
    """What one command did on one node."""

    node: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    started: float
    duration: float
    mutating: bool = False
    planned: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def tail(self, stream: str = "stderr", lines: int = 10) -> str:
        text: str = getattr(self, stream)
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def __str__(self) -> str:
        parts = [f"{self.node} exited {self.exit_status}", f"  $ {self.command}"]
        for stream in ("stderr", "stdout"):
            body = self.tail(stream)
            if body:
                parts.append(f"  {stream} (last lines):")
                parts.extend(f"    {line}" for line in body.splitlines())
            else:
                parts.append(f"  {stream}: (empty)")
        return "\n".join(parts)


# Called for every command, executed or planned: (result, error) where error names a
# timeout or a lost connection.
Observer = Callable[[CommandResult, str | None], None]


@dataclass
class Node:
    """One cluster node reached over SSH (see the module docstring for its lifecycle)."""

    host: Host
    settings: SshSettings
    observer: Observer | None = None
    dry_run: bool = False
    become_password: str | None = field(default=None, repr=False)
    _client: paramiko.SSHClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    connections_opened: int = field(default=0, init=False)

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def address(self) -> str:
        return self.host.address

    @property
    def role(self) -> str:
        return self.host.role

    def __str__(self) -> str:
        return self.name

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

    def _open(self) -> paramiko.SSHClient:
        timeout = self.settings.connect_timeout
        where = f"{self.name} ({self.address}:{self.host.port})"
        try:
            sock = socket.create_connection((self.address, self.host.port), timeout=timeout)
        except OSError as exc:
            raise ConnectionFailed(
                self.name, f"cannot reach {where}: {exc.strerror or exc}"
            ) from None
        # Without TCP_NODELAY every exec stalls ~40 ms on a delayed ACK (lab-recipe §5).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.settings.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.address,
                port=self.host.port,
                username=self.host.user,
                key_filename=str(self.settings.identity_file)
                if self.settings.identity_file
                else None,
                allow_agent=self.settings.identity_file is None,
                look_for_keys=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            sock.close()
            seen = exc.key.fingerprint
            raise HostKeyRejected(
                self.name,
                f"host key of {where} CHANGED: it presented {exc.key.get_name()} {seen}, which is "
                f"not the key pinned in {self.settings.known_hosts}; if the node was reinstalled, "
                "verify the new key out of band and update known_hosts",
            ) from None
        except paramiko.AuthenticationException as exc:
            sock.close()
            raise AuthenticationFailed(
                self.name, f"{where} refused user {self.host.user!r}: {exc}"
            ) from None
        except paramiko.SSHException as exc:
            sock.close()
            if "not found in known_hosts" in str(exc):
                raise HostKeyRejected(
                    self.name,
                    f"{where} is not in {self.settings.known_hosts}; add its host key "
                    f"(ssh-keyscan -p {self.host.port} {self.address}, verified out of band)",
                ) from None
            raise ConnectionFailed(self.name, f"SSH handshake with {where} failed: {exc}") from None
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(self.name, f"cannot reach {where}: {exc}") from None
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        self.connections_opened += 1
        return client

    @staticmethod
    def _is_active(client: paramiko.SSHClient) -> bool:
        transport = client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- commands ------------------------------------------------------------------

    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        check: bool = True,
        mutating: bool = False,
        stdin: bytes | None = None,
        user: str | None = None,
    ) -> CommandResult:
        """Run `command`; raise `CommandFailed` on a non-zero exit unless `check=False`.

        `mutating=True` marks a command that changes the node: in a dry run it is
        recorded as planned and not executed. `user` runs it as that local user.
        """
        deadline = timeout if timeout is not None else self.settings.command_timeout
        started = time.time()
        if mutating and self.dry_run:
            result = CommandResult(self.name, command, 0, "", "", started, 0.0, True, True)
            self._observe(result, None)
            return result
        wrapped = self._wrap(command, deadline, user)
        try:
            status, out, err = self._exec(wrapped, deadline + _GRACE, stdin)
        except _Timeout as exc:
            result = self._result(command, 124, exc.out, exc.err, started, mutating)
            self._observe(result, f"timed out after {deadline:g} s")
            raise CommandTimedOut(result, deadline) from None
        except _Lost as exc:
            result = self._result(command, -1, exc.out, exc.err, started, mutating)
            self._observe(result, "connection lost")
            raise ConnectionLost(result, mutating) from None
        if status == 124 and time.time() - started >= deadline:
            result = self._result(command, status, out, err, started, mutating)
            self._observe(result, f"timed out after {deadline:g} s")
            raise CommandTimedOut(result, deadline)
        result = self._result(command, status, out, err, started, mutating)
        self._observe(result, None)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def _result(
        self, command: str, status: int, out: bytes, err: bytes, started: float, mutating: bool
    ) -> CommandResult:
        return CommandResult(
            self.name,
            command,
            status,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            started,
            time.time() - started,
            mutating,
        )

    def _observe(self, result: CommandResult, error: str | None) -> None:
        if self.observer is not None:
            self.observer(result, error)

    def _wrap(self, command: str, deadline: float, user: str | None) -> str:
        inner = f"timeout -k 5 {deadline:g} sh -c {shlex.quote(command)}"
        if user is not None:
            inner = f"runuser -u {shlex.quote(user)} -- {inner}"
        if self.settings.become == "sudo" and self.host.user != "root":
            flags = "-S -p ''" if self.become_password else "-n"
            inner = f"sudo {flags} -- sh -c {shlex.quote(inner)}"
        return inner

    def _channel(self) -> paramiko.Channel:
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

    def _exec(self, command: str, limit: float, stdin: bytes | None) -> tuple[int, bytes, bytes]:
        chan = self._channel()
        out, err = bytearray(), bytearray()
        end = time.monotonic() + limit
        try:
            chan.exec_command(command)
            feed = b""
            if self.become_password is not None and self.settings.become == "sudo":
                feed = self.become_password.encode() + b"\n"
            if stdin is not None or feed:
                chan.sendall(feed + (stdin or b""))
            chan.shutdown_write()
            fd = chan.fileno()
            while True:
                # Drain both streams: a full stderr window blocks stdout (paramiko #1778).
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                if (
                    chan.exit_status_ready()
                    and not chan.recv_ready()
                    and (not chan.recv_stderr_ready())
                ):
                    if chan.eof_received or chan.closed:
                        break
                if chan.closed and not chan.exit_status_ready():
                    raise _Lost(bytes(out), bytes(err))
                left = end - time.monotonic()
                if left <= 0:
                    raise _Timeout(bytes(out), bytes(err))
                select.select([fd], [], [], min(left, 1.0))
                transport = chan.get_transport()
                if transport is None or not transport.is_active():
                    if not chan.exit_status_ready():
                        raise _Lost(bytes(out), bytes(err))
            return chan.recv_exit_status(), bytes(out), bytes(err)
        except (paramiko.SSHException, OSError, EOFError):
            raise _Lost(bytes(out), bytes(err)) from None
        finally:
            chan.close()

    # -- files ---------------------------------------------------------------------

    def read_file(self, path: str, *, timeout: float | None = None) -> str:
        return self.run(f"cat -- {shlex.quote(path)}", timeout=timeout).stdout

    def fetch(self, path: str, *, timeout: float | None = None) -> bytes:
        """A file's bytes, undecoded (database dumps, tar streams)."""
        return self.fetch_output(f"cat -- {shlex.quote(path)}", timeout=timeout)

    def fetch_output(self, command: str, *, timeout: float | None = None) -> bytes:
        """A read-only command's standard output as bytes; recorded as its size."""
        deadline = timeout if timeout is not None else self.settings.command_timeout
        started = time.time()
        try:
            status, out, err = self._exec(
                self._wrap(command, deadline, None), deadline + _GRACE, None
            )
        except (_Timeout, _Lost) as exc:
            result = self._result(command, -1, b"", exc.err, started, False)
            self._observe(result, "timed out or connection lost")
            raise CommandFailed(result) from None
        summary = f"({len(out)} bytes)".encode()
        result = self._result(command, status, summary, err, started, False)
        self._observe(result, None)
        if not result.ok:
            raise CommandFailed(result)
        return out

    def push(self, command: str, data: bytes, *, timeout: float | None = None) -> CommandResult:
        """Feed `data` to a mutating command's standard input (`cat > f`, `tar -x`)."""
        return self.run(command, stdin=data, mutating=True, timeout=timeout)

    def write_file(self, path: str, content: str, *, timeout: float | None = None) -> None:
        """Replace a file's content in place, keeping its owner and mode."""
        self.run(
            f"cat > {shlex.quote(path)}",
            stdin=content.encode(),
            mutating=True,
            timeout=timeout,
        )


class _Timeout(Exception):
    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err


class _Lost(Exception):
    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err

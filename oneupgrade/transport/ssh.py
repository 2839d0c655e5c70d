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

import getpass
import logging
import os
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from oneupgrade.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimedOut,
    ConnectionFailed,
    ConnectionLost,
    HostKeyRejected,
    Interrupted,
    RunbookError,
)
from oneupgrade.inventory import Host, SshSettings
from oneupgrade.result import CommandResult
from oneupgrade.transport.sshconfig import Hop, Route, SshConfigError, load_config, resolve_route

# How long past the remote deadline the client waits before giving up on the channel.
_GRACE = 10.0


# Called for every command, executed or planned: (result, error) where error names a
# timeout or a lost connection.
Observer = Callable[[CommandResult, str | None], None]


class Held:
    """A command kept running on a node by an open channel (see `Node.hold`)."""

    def __init__(self, node: str, chan: paramiko.Channel) -> None:
        self.node = node
        self._chan = chan

    @property
    def alive(self) -> bool:
        chan = self._chan
        transport = chan.get_transport()
        return not (chan.closed or chan.exit_status_ready() or transport is None
                    or not transport.is_active())  # fmt: skip

    def release(self, wait: float = 5.0) -> None:
        """Close the command's stdin (it ends), then the channel."""
        try:
            self._chan.shutdown_write()
            end = time.monotonic() + wait
            while not self._chan.exit_status_ready() and time.monotonic() < end:
                time.sleep(0.02)
        except (paramiko.SSHException, OSError, EOFError):
            pass
        finally:
            self._chan.close()


@dataclass
class Node:
    """One cluster node reached over SSH (see the module docstring for its lifecycle)."""

    host: Host
    settings: SshSettings
    observer: Observer | None = None
    dry_run: bool = False
    become_password: str | None = field(default=None, repr=False)
    gateways: Gateways = field(default_factory=lambda: shared_gateways(), repr=False)  # noqa: PLW0108 (defined below)
    _client: paramiko.SSHClient | None = field(default=None, init=False, repr=False)
    _route: Route | None = field(default=None, init=False, repr=False)
    _jumps: tuple[Hop, ...] = field(default=(), init=False, repr=False)
    _sudo_feed: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    connections_opened: int = field(default=0, init=False)
    # A dry run reads back the files it planned to write, so later steps plan on them.
    _planned_files: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    # What does not change while the runbook runs (the OS), read once per run.
    known: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    # Set on Ctrl-C: no command starts any more (the cluster's, shared by every node).
    halt: threading.Event | None = field(default=None, repr=False)
    # The command executing now (None between commands): what a Ctrl-C waits for, and
    # since when (time.time()), for the live status line.
    running: str | None = field(default=None, init=False, repr=False)
    running_since: float = field(default=0.0, init=False, repr=False)

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
        timeout = self.settings.connect_timeout
        where = f"{self.name} ({route.target.hostname}:{route.target.port})"
        try:
            if route.jumps:
                where = where[:-1] + " via " + " -> ".join(str(j) for j in route.jumps) + ")"
                self._jumps = route.jumps
                sock: socket.socket | paramiko.Channel = self.gateways.channel(
                    self.name, route.jumps, route.target, self.settings
                )
            else:
                sock = tcp_connect(self.name, route.target, timeout)
            client = handshake(self.name, where, route.target, sock, self.settings)
        except BaseException:
            if self._jumps:
                self.gateways.release(self.name, self._jumps)
                self._jumps = ()
            raise
        try:
            self._sudo_feed = self._check_become(client, where)
        except BaseException:
            client.close()
            raise
        self.connections_opened += 1
        return client

    def _check_become(self, client: paramiko.SSHClient, where: str) -> bool:
        """Can this login become root with sudo? True when sudo needs the password fed.

        Run once per connection, not recorded: `sudo -k -n true` tells whether sudo
        asks for a password (`-k`: cached credentials never decide it); if it does, the
        password is checked once with `sudo -k -S -p '' true` fed on stdin."""
        if not self._uses_sudo:
            return False
        status, _, err = _raw(client, "sudo -k -n true", None, self.settings.connect_timeout)
        if status == 0:
            return False
        if "password" not in err.lower():
            raise AuthenticationFailed(
                self.name,
                f"{where}: `sudo -n true` as {self.route.target.user!r} failed "
                f"(exit {status}): {_first_line(err)}; the login user needs sudo rights "
                "(ssh.become: sudo)",
            )
        if self.become_password is None:
            raise AuthenticationFailed(
                self.name,
                f"{where}: sudo asks {self.route.target.user!r} for a password; set "
                "ssh.become_password_env to the NAME of an environment variable holding it",
            )
        feed = self.become_password.encode() + b"\n"
        status, _, err = _raw(client, "sudo -k -S -p '' true", feed, self.settings.connect_timeout)
        if status != 0:
            raise AuthenticationFailed(
                self.name,
                f"{where}: sudo refused the password of {self.route.target.user!r} "
                f"(from ${self.settings.become_password_env}): {_first_line(err)}",
            )
        return True

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
        self._check_halt()
        if mutating and self.dry_run:
            result = CommandResult(self.name, command, 0, "", "", started, 0.0, True, True)
            self._observe(result, None)
            return result
        self.running, self.running_since = command, started
        try:
            try:
                status, out, err = self._exec(command, deadline, user, stdin)
            except _Lost as exc:
                if mutating:
                    raise
                # A read-only probe is safe to repeat: once, on a new connection.
                lost = self._result(command, -1, exc.out, exc.err, started, mutating)
                self._observe(lost, "connection lost; read-only, retried on a new connection")
                self.close()
                started = time.time()
                status, out, err = self._exec(command, deadline, user, stdin)
        except _Timeout as exc:
            result = self._result(command, 124, exc.out, exc.err, started, mutating)
            self._observe(result, f"timed out after {deadline:g} s")
            raise CommandTimedOut(result, deadline) from None
        except _Lost as exc:
            result = self._result(command, -1, exc.out, exc.err, started, mutating)
            self._observe(result, "connection lost")
            raise ConnectionLost(result, mutating) from None
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM, SIGHUP) while this thread waited: the command goes on on
            # the node, unwatched.
            result = self._result(command, -1, b"", b"", started, mutating)
            self._observe(result, "interrupted while it ran; it runs on on the node")
            raise
        finally:
            self.running = None
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
        """The command line sent: deadline, then the local user, then sudo, each quoted once.

        Under sudo with a password, `-S -p ''` reads the password as the first line of
        stdin (one byte at a time, so a command's own stdin data follows intact) and
        `-k` makes sudo read it every time: a cached credential would otherwise leave
        the password line to the command. Without a password, `-n` fails rather than
        waits. The password is never on a command line (`_exec` feeds it)."""
        inner = f"timeout -k 5 {deadline:g} sh -c {shlex.quote(command)}"
        if user is not None:
            inner = f"runuser -u {shlex.quote(user)} -- {inner}"
        if self._uses_sudo:
            flags = "-k -S -p ''" if self._sudo_feed else "-n"
            inner = f"sudo {flags} -- sh -c {shlex.quote(inner)}"
        return inner

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

    def _exec(
        self, command: str, deadline: float, user: str | None, stdin: bytes | None
    ) -> tuple[int, bytes, bytes]:
        chan = self._channel()  # connects first: the sudo mode is known after connecting
        out, err = bytearray(), bytearray()
        end = time.monotonic() + deadline + _GRACE
        try:
            chan.exec_command(self._wrap(command, deadline, user))
            feed = b""
            if self._sudo_feed and self._uses_sudo and self.become_password is not None:
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
                if chan.eof_received:
                    # All output is in; the pipe stays readable from now on, so wait for the
                    # exit status itself rather than spin on select.
                    chan.status_event.wait(min(left, 1.0))
                else:
                    select.select([fd], [], [], min(left, 1.0))
                transport = chan.get_transport()
                if transport is None or not transport.is_active():
                    if not chan.exit_status_ready():
                        raise _Lost(bytes(out), bytes(err))
            status = chan.recv_exit_status()
            if status == -1:
                # the channel closed without an exit status: the connection went away
                raise _Lost(bytes(out), bytes(err))
            return status, bytes(out), bytes(err)
        except (paramiko.SSHException, OSError, EOFError):
            raise _Lost(bytes(out), bytes(err)) from None
        finally:
            chan.close()

    def hold(
        self, command: str, ready: str, *, timeout: float | None = None
    ) -> Held | CommandResult:
        """Start `command` with its stdin left open for as long as this connection lives,
        and wait until it prints the line `ready`: then it is Held (release() closes its
        stdin). A command that ended (or timed out) first gives its CommandResult.
        Recorded as a command that changes nothing on the cluster."""
        deadline = timeout if timeout is not None else self.settings.command_timeout
        started = time.time()
        chan = self._channel()
        out, err = bytearray(), bytearray()
        try:
            chan.exec_command(self._wrap(command, 0, None))  # `timeout 0`: no deadline
            if self._sudo_feed and self._uses_sudo and self.become_password is not None:
                chan.sendall(self.become_password.encode() + b"\n")
            end = time.monotonic() + deadline
            while ready.encode() + b"\n" not in out and time.monotonic() < end:
                if chan.exit_status_ready() and not chan.recv_ready():
                    break
                select.select([chan.fileno()], [], [], 0.2)
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
        except (paramiko.SSHException, OSError, EOFError):
            chan.close()
            result = self._result(command, -1, bytes(out), bytes(err), started, False)
            self._observe(result, "connection lost")
            raise ConnectionLost(result, False) from None
        held = ready.encode() + b"\n" in out
        status = 0 if held else (chan.recv_exit_status() if chan.exit_status_ready() else 124)
        result = self._result(command, status, bytes(out), bytes(err), started, False)
        self._observe(result, None if held else "ended before it held")
        if held:
            return Held(self.name, chan)
        chan.close()
        return result

    # -- files ---------------------------------------------------------------------

    def read_file(self, path: str, *, timeout: float | None = None) -> str:
        if self.dry_run and path in self._planned_files:
            return self._planned_files[path]
        return self.run(f"cat -- {shlex.quote(path)}", timeout=timeout).stdout

    def fetch(self, path: str, *, timeout: float | None = None) -> bytes:
        """A file's bytes, undecoded (database dumps, tar streams)."""
        return self.fetch_output(f"cat -- {shlex.quote(path)}", timeout=timeout)

    def fetch_output(self, command: str, *, timeout: float | None = None) -> bytes:
        """A read-only command's standard output as bytes; recorded as its size."""
        deadline = timeout if timeout is not None else self.settings.command_timeout
        started = time.time()
        try:
            status, out, err = self._exec(command, deadline, None, None)
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
        if self.dry_run:
            self._planned_files[path] = content
        self.run(
            f"cat > {shlex.quote(path)}",
            stdin=content.encode(),
            mutating=True,
            timeout=timeout,
        )


# -- connection setup (shared by nodes and jump hosts) ---------------------------------

# paramiko logs from its transport threads ("Socket exception: Bad file descriptor" when
# a refused connection is closed); every failure that matters reaches the operator as
# one of our errors, so its records stay out of the terminal and pytest's report.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False

NO_KEY_HINT = (
    "set identity_file in the inventory (one-deploy: ansible_ssh_private_key_file), "
    "IdentityFile in the ssh config, or load a key into ssh-agent"
)


def _nothing_to_offer(hop: Hop) -> str:
    """Why `hop` has no key to offer, naming everything that was looked for."""
    agent = (
        "the ssh config says IdentitiesOnly yes (no ssh-agent keys)"
        if not hop.agent
        else "no ssh-agent (SSH_AUTH_SOCK is not set)"
    )
    return (
        f"no key to offer as {hop.user!r}: no identity_file in the inventory, no "
        f"IdentityFile in the ssh config, {agent}, and none of OpenSSH's default identities "
        f"exists under {Path('~/.ssh').expanduser()} (id_rsa, id_ecdsa, id_ed25519); "
        f"{NO_KEY_HINT}"
    )


def tcp_connect(node: str, hop: Hop, timeout: float) -> socket.socket:
    """A TCP connection to the first hop, TCP_NODELAY set before the handshake."""
    try:
        sock = socket.create_connection((hop.hostname, hop.port), timeout=timeout)
    except OSError as exc:
        raise ConnectionFailed(node, f"cannot reach {hop}: {exc.strerror or exc}") from None
    # Without TCP_NODELAY every exec stalls ~40 ms on a delayed ACK (lab-recipe §5).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def handshake(
    node: str,
    where: str,
    hop: Hop,
    sock: socket.socket | paramiko.Channel,
    settings: SshSettings,
) -> paramiko.SSHClient:
    """SSH over `sock` to `hop`: its host key checked against the pinned known_hosts
    (under the hop's real HostName and Port), then public-key authentication: the hop's
    key files, or the ssh-agent's keys when there are none."""
    timeout = settings.connect_timeout
    client = paramiko.SSHClient()
    # Only this hop's pinned keys: paramiko's own load of the file is quadratic in its
    # lines, and it would run once per connection (seconds of CPU at 200 nodes).
    name = hop.hostname if hop.port == 22 else f"[{hop.hostname}]:{hop.port}"
    for keytype, key in (pinned_host_keys(settings.known_hosts).lookup(name) or {}).items():
        client.get_host_keys().add(name, keytype, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    keys = [str(p) for p in hop.identity_files]
    agent = hop.agent and bool(os.environ.get("SSH_AUTH_SOCK"))
    if not keys and not agent:
        sock.close()
        raise AuthenticationFailed(node, f"{where}: {_nothing_to_offer(hop)}")
    try:
        client.connect(
            hop.hostname,
            port=hop.port,
            username=hop.user,
            key_filename=keys or None,  # type: ignore[arg-type]  # a list is accepted
            allow_agent=agent,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
            sock=sock,
            transport_factory=_transport,
        )
    except paramiko.BadHostKeyException as exc:
        sock.close()
        seen = exc.key.fingerprint
        raise HostKeyRejected(
            node,
            f"host key of {where} CHANGED: it presented {exc.key.get_name()} {seen}, which is "
            f"not the key pinned in {settings.known_hosts}; if the node was reinstalled, "
            "verify the new key out of band and update known_hosts",
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        sock.close()
        hint = "" if hop.named else f"; {NO_KEY_HINT}"
        raise AuthenticationFailed(
            node, f"{where} refused user {hop.user!r} (offered {hop.offered()}): {exc}{hint}"
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        sock.close()
        if "No authentication methods available" in str(exc):  # an agent with no keys
            raise AuthenticationFailed(
                node,
                f"{where}: no key to offer as {hop.user!r} (offered {hop.offered()}; the "
                f"ssh-agent holds none); {NO_KEY_HINT}",
            ) from None
        if "not found in known_hosts" in str(exc):
            scan = f"-p {hop.port} {hop.hostname}" if hop.port != 22 else hop.hostname
            raise HostKeyRejected(
                node,
                f"{where} is not in {settings.known_hosts}; add its host key "
                f"(ssh-keyscan {scan}, verified out of band)",
            ) from None
        raise ConnectionFailed(node, f"SSH handshake with {where} failed: {exc}") from None
    except OSError as exc:
        sock.close()
        raise ConnectionFailed(node, f"cannot reach {where}: {exc}") from None
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(15)
    return client


_SocketLike = str | tuple[str, int] | socket.socket | paramiko.Channel | paramiko.ProxyCommand


class _Transport(paramiko.Transport):
    # paramiko's transport thread wakes every 0.1 s to look at its own state; with one
    # connection per node that is 2000 wake-ups a second at 200 nodes (~6% of a core,
    # and GIL contention for the threads doing the work). Data still arrives at once;
    # only a close or a keepalive is noticed up to a second later.
    _active_check_timeout = 1.0
    # AES-GCM first: its tag is checked inside `cryptography`, where the CTR modes' HMAC
    # is compared byte by byte in Python (a quarter of the controller's CPU per command).
    _preferred_ciphers = (
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
        "aes128-cbc",
        "aes256-cbc",
    )


def _transport(
    sock: _SocketLike,
    /,
    *,
    gss_kex: bool = False,
    gss_deleg_creds: bool = True,
    disabled_algorithms: Mapping[str, Iterable[str]] | None = None,
) -> paramiko.Transport:
    # (the GSS options are in paramiko's type stubs; paramiko 4+ no longer passes them)
    return _Transport(sock, disabled_algorithms=disabled_algorithms)


# known_hosts path -> ((mtime, size) when parsed, its keys)
_PINNED: dict[str, tuple[tuple[int, int], paramiko.HostKeys]] = {}
_PINNED_LOCK = threading.Lock()


def pinned_host_keys(path: Path) -> paramiko.HostKeys:
    """The known_hosts file, parsed once while it is unchanged (mtime and size)."""
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    with _PINNED_LOCK:
        cached = _PINNED.get(str(path))
        if cached is None or cached[0] != stamp:
            cached = _PINNED[str(path)] = (stamp, paramiko.HostKeys(str(path)))
        return cached[1]


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


def _raw(
    client: paramiko.SSHClient, command: str, feed: bytes | None, timeout: float
) -> tuple[int, str, str]:
    """A short setup command on a fresh connection (never recorded: it carries no change)."""
    chan = client.get_transport().open_session(timeout=timeout)  # type: ignore[union-attr]
    try:
        chan.settimeout(timeout)
        chan.exec_command(command)
        if feed:
            chan.sendall(feed)
        chan.shutdown_write()
        out, err = bytearray(), bytearray()
        end = time.monotonic() + timeout
        while not (chan.exit_status_ready() and chan.eof_received):
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if time.monotonic() > end:
                return 124, out.decode("utf-8", "replace"), "timed out"
            if chan.closed and not chan.exit_status_ready():
                return -1, out.decode("utf-8", "replace"), "connection closed"
            select.select([chan.fileno()], [], [], 0.2)
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        return (
            chan.recv_exit_status(),
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return -1, "", f"connection failed: {exc}"
    finally:
        chan.close()


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


# -- the sudo password -----------------------------------------------------------------


class BecomePasswordMissing(RunbookError):
    """`ssh.become_password_env` names a variable that is not set, and nobody can be asked."""


def become_password(
    settings: SshSettings,
    *,
    environ: Mapping[str, str] | None = None,
    interactive: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str | None:
    """The sudo password, or None when none is needed (passwordless sudo, or root).

    Read from the environment variable `ssh.become_password_env` names; when it is not
    set and `interactive` (stdin is a terminal), asked once with getpass (no echo).
    Never stored anywhere but in memory, never shown."""
    name = settings.become_password_env
    if settings.become != "sudo" or not name:
        return None
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    if interactive:
        entered = prompt(f"sudo password for {settings.user} (${name} is not set): ")
        if entered:
            return entered
        raise BecomePasswordMissing("no sudo password entered")
    raise BecomePasswordMissing(
        f"ssh.become_password_env names ${name}, which is not set (or empty), and stdin is "
        f"not a terminal to ask for it; export {name} with the sudo password, or run "
        "from a terminal"
    )


class _Timeout(Exception):
    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err


class _Lost(Exception):
    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err

"""SSH to the cluster's nodes: one persistent paramiko connection per node.

Lifecycle: a `Node` is created unconnected; `connect()` opens the connection
(TCP_NODELAY set before the handshake, host key checked against the pinned
known_hosts, unknown or changed keys refused); `run()` opens one channel per
command on that connection; `close()` ends it. Connecting may be retried;
commands are never retried: a connection lost during a command leaves its
outcome unknown, and `ConnectionLost` says so. How a command line is quoted and
wrapped (deadline, sudo): `oneupgrade.transport.sudo`.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

from oneupgrade.errors import CommandFailed, CommandTimedOut, ConnectionLost
from oneupgrade.inventory.model import Host, SshSettings
from oneupgrade.result import CommandResult
from oneupgrade.transport import detach as detach_
from oneupgrade.transport.channel import ChannelLost, ChannelTimeout, Held, execute, wait_ready
from oneupgrade.transport.connection import Connection
from oneupgrade.transport.gateways import Gateways, shared_gateways
from oneupgrade.transport.sshconfig import Hop, Route

# Called for every command, executed or planned: (result, error) where error names a
# timeout or a lost connection.
Observer = Callable[[CommandResult, str | None], None]


@dataclass
class Node(Connection):
    """One cluster node reached over SSH (see the module docstring for its lifecycle)."""

    host: Host
    settings: SshSettings
    observer: Observer | None = None
    dry_run: bool = False
    become_password: str | None = field(default=None, repr=False)
    gateways: Gateways = field(default_factory=shared_gateways, repr=False)
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

    def __str__(self) -> str:
        return self.name

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
        detach: bool = False,
    ) -> CommandResult:
        """Run `command`; raise `CommandFailed` on a non-zero exit unless `check=False`.

        `detach=True` runs it as a job that outlives this connection (transport/detach.py):
        for a package transaction, which a dropped channel would otherwise kill half way.

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
            sent, job = command, f"{int(started)}-{secrets.token_hex(4)}"
            if detach:
                assert stdin is None, "a detached command reads no stdin"
                sent = detach_.detached(command, job, deadline)
            status, out, err, started = self._watch(
                command, deadline + (10 if detach else 0), user, stdin, started, mutating, sent
            )
            if detach:
                self._forget_job(job)
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

    def _forget_job(self, job: str) -> None:
        """The job's directory removed once its result is read (housekeeping of our own
        file, not a change to the node: not recorded). Left behind, the next run reports
        it as an earlier run's finished job, which does no harm."""
        with contextlib.suppress(Exception):  # the result already read stands
            self._exec(detach_.removal(job), 30.0, None, None)

    def _watch(
        self,
        command: str,
        deadline: float,
        user: str | None,
        stdin: bytes | None,
        started: float,
        mutating: bool,
        sent: str | None = None,
    ) -> tuple[int, bytes, bytes, float]:
        """Execute `command` (as the text `sent`, when given; a read-only one again, once,
        if the connection is lost): exit status, stdout, stderr and when it started. A
        timeout, a lost connection and a Ctrl-C are recorded (as `command`) and raised."""
        sent = sent or command
        try:
            try:
                return (*self._exec(sent, deadline, user, stdin), started)
            except ChannelLost as exc:
                if mutating:
                    raise
                # A read-only probe is safe to repeat: once, on a new connection.
                lost = self._result(command, -1, exc.out, exc.err, started, mutating)
                self._observe(lost, "connection lost; read-only, retried on a new connection")
                self.close()
                started = time.time()
                return (*self._exec(sent, deadline, user, stdin), started)
        except ChannelTimeout as exc:
            result = self._result(command, 124, exc.out, exc.err, started, mutating)
            self._observe(result, f"timed out after {deadline:g} s")
            raise CommandTimedOut(result, deadline) from None
        except ChannelLost as exc:
            result = self._result(command, -1, exc.out, exc.err, started, mutating)
            self._observe(result, "connection lost")
            raise ConnectionLost(result, mutating) from None
        except KeyboardInterrupt:
            # Ctrl-C (or SIGTERM, SIGHUP) while this thread waited: the command goes on on
            # the node, unwatched.
            result = self._result(command, -1, b"", b"", started, mutating)
            self._observe(result, "interrupted while it ran; it runs on on the node")
            raise

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

    def _exec(
        self, command: str, deadline: float, user: str | None, stdin: bytes | None
    ) -> tuple[int, bytes, bytes]:
        chan = self._channel()  # connects first: the sudo mode is known after connecting
        feed = self._password_line()
        data = feed + (stdin or b"") if stdin is not None or feed else None
        return execute(chan, self._wrap(command, deadline, user), data, deadline)

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
        out, err, line = bytearray(), bytearray(), ready.encode() + b"\n"
        try:
            chan.exec_command(self._wrap(command, 0, None))  # `timeout 0`: no deadline
            if feed := self._password_line():
                chan.sendall(feed)
            wait_ready(chan, line, out, err, time.monotonic() + deadline)
        except (paramiko.SSHException, OSError, EOFError):
            chan.close()
            result = self._result(command, -1, bytes(out), bytes(err), started, False)
            self._observe(result, "connection lost")
            raise ConnectionLost(result, False) from None
        held = line in out
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
        except (ChannelTimeout, ChannelLost) as exc:
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

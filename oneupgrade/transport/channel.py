"""One command on one SSH channel: run to its end under a deadline, or held open.

A channel's command is either run to its exit status (`execute`, `run_setup`) or kept
running by the open channel (`Held`). Timing out or losing the connection while a
command runs raises `ChannelTimeout` or `ChannelLost`, carrying the output so far;
the node turns them into its recorded errors.
"""

from __future__ import annotations

import select
import time

import paramiko

# How long past the remote deadline the client waits before giving up on the channel.
_GRACE = 10.0


class ChannelTimeout(Exception):
    """The command outlived its deadline (plus the grace); its output so far."""

    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err


class ChannelLost(Exception):
    """The connection went away while the command ran; its output so far."""

    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err


def drain(chan: paramiko.Channel, out: bytearray, err: bytearray) -> None:
    """Read what both streams hold now."""
    while chan.recv_ready():
        out += chan.recv(65536)
    while chan.recv_stderr_ready():
        err += chan.recv_stderr(65536)


def execute(
    chan: paramiko.Channel, line: str, data: bytes | None, deadline: float
) -> tuple[int, bytes, bytes]:
    """Run the command line `line` on `chan`, `data` fed to its stdin; the channel is
    closed after. Its exit status, stdout and stderr."""
    out, err = bytearray(), bytearray()
    end = time.monotonic() + deadline + _GRACE
    try:
        chan.exec_command(line)
        if data is not None:
            chan.sendall(data)
        chan.shutdown_write()
        _wait_exit(chan, out, err, end)
        status = chan.recv_exit_status()
        if status == -1:
            # the channel closed without an exit status: the connection went away
            raise ChannelLost(bytes(out), bytes(err))
        return status, bytes(out), bytes(err)
    except (paramiko.SSHException, OSError, EOFError):
        raise ChannelLost(bytes(out), bytes(err)) from None
    finally:
        chan.close()


def _wait_exit(chan: paramiko.Channel, out: bytearray, err: bytearray, end: float) -> None:
    """Collect the output until the command's exit status and its end of output are in."""
    fd = chan.fileno()
    while True:
        # Drain both streams: a full stderr window blocks stdout (paramiko #1778).
        drain(chan, out, err)
        if chan.exit_status_ready() and not chan.recv_ready() and (not chan.recv_stderr_ready()):
            if chan.eof_received or chan.closed:
                return
        if chan.closed and not chan.exit_status_ready():
            raise ChannelLost(bytes(out), bytes(err))
        left = end - time.monotonic()
        if left <= 0:
            raise ChannelTimeout(bytes(out), bytes(err))
        if chan.eof_received:
            # All output is in; the pipe stays readable from now on, so wait for the
            # exit status itself rather than spin on select.
            chan.status_event.wait(min(left, 1.0))
        else:
            select.select([fd], [], [], min(left, 1.0))
        transport = chan.get_transport()
        if transport is None or not transport.is_active():
            if not chan.exit_status_ready():
                raise ChannelLost(bytes(out), bytes(err))


def wait_ready(
    chan: paramiko.Channel, ready: bytes, out: bytearray, err: bytearray, end: float
) -> None:
    """Collect the output until it holds `ready`, the command ends, or `end` passes."""
    while ready not in out and time.monotonic() < end:
        if chan.exit_status_ready() and not chan.recv_ready():
            break
        select.select([chan.fileno()], [], [], 0.2)
        drain(chan, out, err)


def run_setup(
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
            drain(chan, out, err)
            if time.monotonic() > end:
                return 124, out.decode("utf-8", "replace"), "timed out"
            if chan.closed and not chan.exit_status_ready():
                return -1, out.decode("utf-8", "replace"), "connection closed"
            select.select([chan.fileno()], [], [], 0.2)
        drain(chan, out, err)
        return (
            chan.recv_exit_status(),
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return -1, "", f"connection failed: {exc}"
    finally:
        chan.close()


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

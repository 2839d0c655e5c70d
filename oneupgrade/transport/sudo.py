"""Becoming root with sudo, and the command line sent to a node.

Quoting: every command is a shell string run by the node's login shell. It is
wrapped as `timeout -k 5 T sh -c '<command>'` so that its deadline also holds on
the node (closing a channel without a pty does not kill the remote process), and
under `sudo` when the inventory asks for it. Callers quote arguments with
`shlex.quote`; the wrapping quotes the whole command once more.
"""

from __future__ import annotations

import getpass
import os
import shlex
from collections.abc import Callable, Mapping

import paramiko

from oneupgrade.errors import AuthenticationFailed, RunbookError
from oneupgrade.inventory.model import SshSettings
from oneupgrade.transport.channel import run_setup


def command_line(command: str, deadline: float, user: str | None, *, sudo: bool, feed: bool) -> str:
    """The command line sent: deadline, then the local user, then sudo, each quoted once.

    Under sudo with a password (`feed`), `-S -p ''` reads the password as the first line
    of stdin (one byte at a time, so a command's own stdin data follows intact) and
    `-k` makes sudo read it every time: a cached credential would otherwise leave
    the password line to the command. Without a password, `-n` fails rather than
    waits. The password is never on a command line (`Node._exec` feeds it)."""
    inner = f"timeout -k 5 {deadline:g} sh -c {shlex.quote(command)}"
    if user is not None:
        inner = f"runuser -u {shlex.quote(user)} -- {inner}"
    if sudo:
        flags = "-k -S -p ''" if feed else "-n"
        inner = f"sudo {flags} -- sh -c {shlex.quote(inner)}"
    return inner


def check_become(
    client: paramiko.SSHClient,
    node: str,
    where: str,
    login: str,
    settings: SshSettings,
    password: str | None,
) -> bool:
    """Can `login` become root with sudo? True when sudo needs the password fed.

    Run once per connection, not recorded: `sudo -k -n true` tells whether sudo
    asks for a password (`-k`: cached credentials never decide it); if it does, the
    password is checked once with `sudo -k -S -p '' true` fed on stdin."""
    status, _, err = run_setup(client, "sudo -k -n true", None, settings.connect_timeout)
    if status == 0:
        return False
    if "password" not in err.lower():
        raise AuthenticationFailed(
            node,
            f"{where}: `sudo -n true` as {login!r} failed "
            f"(exit {status}): {_first_line(err)}; the login user needs sudo rights "
            "(ssh.become: sudo)",
        )
    if password is None:
        raise AuthenticationFailed(
            node,
            f"{where}: sudo asks {login!r} for a password; set "
            "ssh.become_password_env to the NAME of an environment variable holding it",
        )
    feed = password.encode() + b"\n"
    status, _, err = run_setup(client, "sudo -k -S -p '' true", feed, settings.connect_timeout)
    if status != 0:
        raise AuthenticationFailed(
            node,
            f"{where}: sudo refused the password of {login!r} "
            f"(from ${settings.become_password_env}): {_first_line(err)}",
        )
    return True


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

"""Opening one SSH connection (to a node or a jump host): TCP, handshake, pinned keys.

The host key is checked against the pinned known_hosts under the hop's real HostName
and Port; unknown or changed keys are refused. Authentication is by public key only:
the hop's key files, or the ssh-agent's keys when there are none.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import paramiko

from oneupgrade.errors import AuthenticationFailed, ConnectionFailed, HostKeyRejected
from oneupgrade.inventory.model import SshSettings
from oneupgrade.transport.sshconfig import Hop

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
    client = _pinned_client(hop, settings.known_hosts)
    keys = [str(p) for p in hop.identity_files]
    agent = hop.agent and bool(os.environ.get("SSH_AUTH_SOCK"))
    if not keys and not agent:
        sock.close()
        raise AuthenticationFailed(node, f"{where}: {_nothing_to_offer(hop)}")
    try:
        _login(client, hop, sock, keys, agent, settings.connect_timeout)
    except (paramiko.SSHException, OSError) as exc:
        if isinstance(exc, paramiko.SSHException) and not isinstance(
            exc, paramiko.BadHostKeyException
        ):
            client.close()
        sock.close()
        raise _refused(node, where, hop, settings.known_hosts, exc) from None
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(15)
    return client


def _login(
    client: paramiko.SSHClient,
    hop: Hop,
    sock: socket.socket | paramiko.Channel,
    keys: list[str],
    agent: bool,
    timeout: float,
) -> None:
    """The handshake and public-key authentication, every wait bounded by `timeout`."""
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


def _pinned_client(hop: Hop, known_hosts: Path) -> paramiko.SSHClient:
    """A client that knows only `hop`'s pinned host keys and refuses any other."""
    client = paramiko.SSHClient()
    # Only this hop's pinned keys: paramiko's own load of the file is quadratic in its
    # lines, and it would run once per connection (seconds of CPU at 200 nodes).
    name = hop.hostname if hop.port == 22 else f"[{hop.hostname}]:{hop.port}"
    for keytype, key in (pinned_host_keys(known_hosts).lookup(name) or {}).items():
        client.get_host_keys().add(name, keytype, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def _refused(
    node: str, where: str, hop: Hop, known_hosts: Path, exc: paramiko.SSHException | OSError
) -> HostKeyRejected | AuthenticationFailed | ConnectionFailed:
    """The error a failed handshake with `hop` is reported as."""
    if isinstance(exc, paramiko.BadHostKeyException):
        seen = exc.key.fingerprint
        return HostKeyRejected(
            node,
            f"host key of {where} CHANGED: it presented {exc.key.get_name()} {seen}, which is "
            f"not the key pinned in {known_hosts}; if the node was reinstalled, "
            "verify the new key out of band and update known_hosts",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        hint = "" if hop.named else f"; {NO_KEY_HINT}"
        return AuthenticationFailed(
            node, f"{where} refused user {hop.user!r} (offered {hop.offered()}): {exc}{hint}"
        )
    if isinstance(exc, OSError):
        return ConnectionFailed(node, f"cannot reach {where}: {exc}")
    if "No authentication methods available" in str(exc):  # an agent with no keys
        return AuthenticationFailed(
            node,
            f"{where}: no key to offer as {hop.user!r} (offered {hop.offered()}; the "
            f"ssh-agent holds none); {NO_KEY_HINT}",
        )
    if "not found in known_hosts" in str(exc):
        scan = f"-p {hop.port} {hop.hostname}" if hop.port != 22 else hop.hostname
        return HostKeyRejected(
            node,
            f"{where} is not in {known_hosts}; add its host key "
            f"(ssh-keyscan {scan}, verified out of band)",
        )
    return ConnectionFailed(node, f"SSH handshake with {where} failed: {exc}")


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

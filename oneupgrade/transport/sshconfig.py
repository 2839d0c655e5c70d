"""Where and how to reach a node: the inventory plus the operator's OpenSSH client config.

The config file is the inventory's `ssh.config`, else `~/.ssh/config` when it exists,
else none. It is read with `paramiko.SSHConfig` (no `Include`, no `ProxyCommand`, no
`Match exec`: a config that needs them is refused with a clear message).

How one node resolves (`resolve_route`), documented rule:

- The node's inventory `address` is what is looked up, as `ssh <address>` would:
  `Host` patterns match it, and an address that is a `Host` alias gets its `HostName`.
- User: the inventory's user when it is written (a node's `user`, the native `ssh.user`,
  one-deploy's `ansible_user`); else the config's `User`; else `ssh.user`.
- Port: the inventory's port when it is written (a node's `port`, `ssh.port`,
  `ansible_port`); else the config's `Port`; else 22.
- IdentityFile: the inventory's `identity_file`; else the config's `IdentityFile`
  entries that exist (those keys alone are offered). With neither, as OpenSSH does: the
  keys of a running ssh-agent (unless the config says `IdentitiesOnly yes`), then
  OpenSSH's default identities that exist (`~/.ssh/id_rsa`, `id_ecdsa`, `id_ed25519`
  ..., in the order `ssh -G` lists them; security-key and XMSS keys left out, paramiko
  cannot use them).
- ProxyJump: `none` or a comma list of `[user@]host[:port]`, connected in order. Every
  jump host is looked up in the config too (HostName, Port, User, IdentityFile; its
  user defaults to `ssh.user`, its key to the inventory's key), and the first jump
  host's own `ProxyJump` is followed, as OpenSSH does: a jump host behind a jump host
  works. At most `MAX_HOPS` jumps; a loop is an error.

Host keys are never part of this: every hop, jump hosts included, is checked against
the pinned known_hosts under its real HostName and Port (`oneupgrade.transport.connect`).
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paramiko

from oneupgrade.errors import RunbookError
from oneupgrade.inventory.model import Host, SshSettings

__all__ = [
    "MAX_HOPS",
    "Hop",
    "Route",
    "SshConfigError",
    "default_identities",
    "load_config",
    "resolve_route",
]

MAX_HOPS = 8
_JUMP_RE = re.compile(
    r"^(?:ssh://)?(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s]+)(?::(?P<port>\d+))?$"
)


class SshConfigError(RunbookError):
    """The OpenSSH client config cannot be used for a node."""


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way to a node."""

    alias: str  # as written in the inventory or the ProxyJump list (for messages)
    hostname: str  # where to connect; known_hosts is checked for this name and port
    port: int
    user: str
    identity_files: tuple[Path, ...] = ()
    agent: bool = True  # offer the ssh-agent's keys too
    named: bool = False  # the keys are the inventory's or the config's, not OpenSSH's defaults

    def __str__(self) -> str:
        where = f"{self.hostname}:{self.port}"
        return where if self.alias == self.hostname else f"{self.alias} ({where})"

    def offered(self) -> str:
        """What authentication offers on this hop, for messages."""
        parts = [", ".join(map(str, self.identity_files))] if self.identity_files else []
        if self.agent:
            parts.append("the ssh-agent's keys")
        return " and ".join(parts) or "no key"


@dataclass(frozen=True)
class Route:
    """The node itself and the jump hosts before it, first-connected first."""

    target: Hop
    jumps: tuple[Hop, ...] = ()


def config_path(settings: SshSettings) -> Path | None:
    if settings.config is not None:
        return settings.config
    default = Path("~/.ssh/config").expanduser()
    return default if default.is_file() else None


def load_config(settings: SshSettings) -> paramiko.SSHConfig | None:
    path = config_path(settings)
    if path is None:
        return None
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except OSError as exc:
        raise SshConfigError(f"ssh config {path} cannot be read: {exc.strerror or exc}") from None
    except Exception as exc:  # paramiko raises ConfigParseError and friends
        raise SshConfigError(f"ssh config {path} cannot be parsed: {exc}") from None


def _lookup(config: paramiko.SSHConfig | None, host: str) -> dict[str, object]:
    if config is None:
        return {}
    found: dict[str, object] = dict(config.lookup(host))
    for unsupported in ("proxycommand", "include"):
        value = found.get(unsupported)
        if value and str(value).lower() != "none":
            raise SshConfigError(
                f"ssh config: {unsupported} is not supported (for {host!r}); use ProxyJump"
            )
    return found


def _port(value: object, where: str) -> int:
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SshConfigError(f"ssh config: Port {text!r} for {where} is not a port number")
    return int(text)


def _identities(found: dict[str, object]) -> tuple[Path, ...]:
    raw = found.get("identityfile") or []
    files = raw if isinstance(raw, list) else [raw]
    paths = [Path(str(f)).expanduser() for f in files]
    return tuple(p for p in paths if p.is_file())


# OpenSSH 9's defaults, for a machine whose `ssh` cannot be asked
_OPENSSH_DEFAULTS = tuple(
    f"~/.ssh/id_{kind}"
    for kind in ("rsa", "ecdsa", "ecdsa_sk", "ed25519", "ed25519_sk", "xmss", "dsa")
)


@functools.cache
def _openssh_default_names() -> tuple[str, ...]:
    """The identity files OpenSSH tries when none is configured, as `ssh -G` lists them
    with no config file read (`-F none`: only the client's own defaults)."""
    try:
        out = subprocess.run(
            ["ssh", "-G", "-F", "none", "default.invalid"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return _OPENSSH_DEFAULTS
    names = tuple(
        line.split(None, 1)[1].strip()
        for line in out.splitlines()
        if line.lower().startswith("identityfile ") and len(line.split(None, 1)) == 2
    )
    return names or _OPENSSH_DEFAULTS


def default_identities() -> tuple[Path, ...]:
    """OpenSSH's default identities that exist (under $HOME now), paramiko's kinds only."""
    usable = [n for n in _openssh_default_names() if not n.endswith(("_sk", "_xmss"))]
    paths = [Path(n).expanduser() for n in usable]
    return tuple(p for p in paths if p.is_file())


def _keys(named: tuple[Path, ...], found: dict[str, object]) -> tuple[tuple[Path, ...], bool, bool]:
    """A Hop's identity_files, agent and named: the named keys alone; else the agent
    (unless IdentitiesOnly) and OpenSSH's default identities."""
    if named:
        return named, False, True
    only = str(found.get("identitiesonly") or "no").lower() == "yes"
    return default_identities(), not only, False


def _jump_specs(value: object) -> list[str]:
    text = str(value or "").strip()
    if not text or text.lower() == "none":
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def _jump_hop(
    spec: str, config: paramiko.SSHConfig | None, settings: SshSettings
) -> tuple[Hop, list[str]]:
    """A jump host from its ProxyJump spec; also its own ProxyJump list."""
    match = _JUMP_RE.match(spec)
    if match is None:
        raise SshConfigError(f"ssh config: ProxyJump {spec!r} is not [user@]host[:port]")
    name = match["host"].strip("[]")
    found = _lookup(config, name)
    hostname = str(found.get("hostname") or name)
    if match["port"]:
        port = _port(match["port"], spec)
    elif found.get("port"):
        port = _port(found["port"], name)
    else:
        port = 22
    user = match["user"] or str(found.get("user") or settings.user)
    identities = _identities(found)
    if not identities and settings.identity_file is not None:
        identities = (settings.identity_file,)
    hop = Hop(name, hostname, port, user, *_keys(identities, found))
    return hop, _jump_specs(found.get("proxyjump"))


def _chain(
    specs: list[str],
    config: paramiko.SSHConfig | None,
    settings: SshSettings,
    seen: tuple[str, ...],
) -> list[Hop]:
    """Hops for `ProxyJump a,b,c`: c is reached through a,b; a through its own ProxyJump."""
    if not specs:
        return []
    *before, last = specs
    if last in seen:
        raise SshConfigError(f"ssh config: ProxyJump loop: {' -> '.join([*seen, last])}")
    if len(seen) >= MAX_HOPS:
        raise SshConfigError(f"ssh config: more than {MAX_HOPS} jump hosts for {seen[0]!r}")
    hop, own = _jump_hop(last, config, settings)
    prefix = _chain(before if before else own, config, settings, (*seen, last))
    return [*prefix, hop]


def resolve_route(host: Host, settings: SshSettings, config: paramiko.SSHConfig | None) -> Route:
    """How to reach `host` (see the module docstring for the rule)."""
    found = _lookup(config, host.address)
    hostname = str(found.get("hostname") or host.address)
    if host.port_given or not found.get("port"):
        port = host.port
    else:
        port = _port(found["port"], host.address)
    if host.user_given or not found.get("user"):
        user = host.user
    else:
        user = str(found["user"])
    if settings.identity_file is not None:
        identities: tuple[Path, ...] = (settings.identity_file,)
    else:
        identities = _identities(found)
    target = Hop(host.address, hostname, port, user, *_keys(identities, found))
    jumps = _chain(_jump_specs(found.get("proxyjump")), config, settings, (host.address,))
    return Route(target, tuple(jumps))

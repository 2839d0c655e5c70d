"""What an inventory says, once read and checked: the nodes and how to reach them.

Both formats (native and one-deploy) become the same `Inventory`; the rest of the
runbook reads only these types.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

PROXIES = ("nginx", "apache", "none", "auto")
BECOME_METHODS = ("none", "sudo")
HYPERVISORS = ("kvm", "lxc")


@dataclass(frozen=True)
class Host:
    """One node: a front-end or a hypervisor."""

    name: str
    address: str
    port: int
    user: str
    role: str  # "frontend" | "hypervisor"
    hypervisor: str | None = None  # "kvm" | "lxc" for hypervisors, None for front-ends
    # Written in the inventory (else the ssh config's Port/User may apply: transport.sshconfig).
    port_given: bool = field(default=True, compare=False)
    user_given: bool = field(default=True, compare=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass(frozen=True)
class SshSettings:
    """How every node is reached. Paths are absolute; the files existed when loaded."""

    user: str
    identity_file: Path | None
    known_hosts: Path
    port: int = 22
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    config: Path | None = None
    become: str = "none"  # "none" | "sudo"
    become_password_env: str | None = None  # the NAME of an environment variable
    port_given: bool = field(default=True, compare=False)  # `port:` written in ssh:


@dataclass(frozen=True)
class Inventory:
    path: Path  # resolved
    sha256: str  # of the file's bytes: the report's "inventory digest"
    cluster: str
    zone: int
    target: str  # a series ("7.0") or an exact release ("7.0.1"), known to `releases`
    vip: str | None
    proxy: str  # nginx | apache | none | auto
    redact: tuple[str, ...]  # regular expressions
    ssh: SshSettings
    frontends: tuple[Host, ...]
    hypervisors: tuple[Host, ...]
    discover_hypervisors: bool = False
    format: str = "native"  # "native" | "one-deploy"
    # Secret values found in the file (a one-deploy inventory may hold one_pass,
    # db_password...): never printed, only handed to the redactor.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def nodes(self) -> tuple[Host, ...]:
        """Front-ends first, then hypervisors."""
        return self.frontends + self.hypervisors

    def node(self, name: str) -> Host:
        for host in self.nodes:
            if host.name == name:
                return host
        raise KeyError(f"no node named {name!r} in {self.path}")


def hypervisor_patterns(inventory: Inventory, text: str) -> tuple[str, ...]:
    """`--hypervisors 'kvm1,kvm2*'` as patterns; each must match a hypervisor (ValueError)."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if not patterns:
        raise ValueError("--hypervisors is empty; give names or shell patterns, e.g. 'kvm1,kvm2*'")
    if inventory.discover_hypervisors:
        return patterns  # the names are known only once the front-ends answer
    names = [h.name for h in inventory.hypervisors]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        shown = ", ".join(repr(p) for p in unmatched)
        raise ValueError(
            f"--hypervisors: {shown} matches no hypervisor of {inventory.path.name} "
            f"(it has {', '.join(names) or 'none'}); check the names"
        )
    return patterns

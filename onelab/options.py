"""What `up` is asked for: the options of a lab, their checks, and --latency's parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import addresses
from .errors import LabError

OSES = ("debian12", "debian11", "ubuntu24.04", "alma9")
HYPERVISORS = ("kvm", "lxc")
TIERS = ("sim", "real")
DATABASES = ("sqlite", "mysql")
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*$")


@dataclass(frozen=True)
class Options:
    frontends: int = 3
    hypervisors: int = 2
    version: str = "6.10"
    os: str = "debian12"
    port: int = 2222
    base_address: str | None = None
    latencies: dict[str, float] | None = None
    vms: int | None = None  # default: one per hypervisor
    hypervisor: str = "kvm"
    force_command: bool = True
    login_user: str | None = None  # a non-root login with sudo on every node
    sudo_password: str | None = None  # its sudo password (None: NOPASSWD)
    jump: bool = False  # nodes reachable only through a jump node
    opennebula: str = "sim"  # "sim": the simulation; "real": OpenNebula built from source
    db: str = "sqlite"  # the real tier's database backend: "sqlite" or "mysql" (MariaDB)


def validate(opts: Options) -> None:
    if not 1 <= opts.frontends <= addresses.MAX_FRONTENDS:
        raise LabError(f"--frontends must be 1..{addresses.MAX_FRONTENDS}")
    if not 0 <= opts.hypervisors <= addresses.MAX_HYPERVISORS:
        raise LabError(f"--hypervisors must be 0..{addresses.MAX_HYPERVISORS}")
    if opts.os not in OSES:
        raise LabError(f"--os must be one of {', '.join(OSES)}")
    if opts.hypervisor not in HYPERVISORS:
        raise LabError(f"--hypervisor must be one of {', '.join(HYPERVISORS)}")
    if not 1 <= opts.port <= 65535:
        raise LabError("--port must be 1..65535")
    if opts.vms is not None and opts.vms < 0:
        raise LabError("--vms must be >= 0")
    user = opts.login_user
    if user is not None and (user in ("root", "oneadmin") or not USER_RE.match(user)):
        raise LabError("--login-user must be a lower-case user name other than root or oneadmin")
    if opts.sudo_password is not None and (opts.login_user is None or not opts.sudo_password):
        raise LabError("--sudo-password needs --login-user and a non-empty password")
    if opts.opennebula not in TIERS:
        raise LabError(f"--opennebula must be one of {', '.join(TIERS)}")
    if opts.db not in DATABASES:
        raise LabError(f"--db must be one of {', '.join(DATABASES)}")
    if opts.db != "sqlite" and opts.opennebula != "real":
        raise LabError("--db chooses the real tier's backend (with --opennebula real)")
    if opts.opennebula == "real":
        if opts.os != "debian12":
            raise LabError("the real tier runs Debian 12 nodes only (--os debian12)")
        if opts.hypervisor != "kvm":
            raise LabError("the real tier's hosts are KVM nodes (--hypervisor kvm)")
        if opts.hypervisors > 20 or opts.frontends > 5:
            raise LabError("the real tier runs at most 5 front-ends and 20 hypervisors")


def parse_latencies(text: str) -> dict[str, float]:
    """'apt-get install=2.0,onedb upgrade=1.0' -> {'apt-get install': 2.0, 'onedb upgrade': 1.0}"""
    result: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, sep, seconds = item.rpartition("=")
        try:
            if not sep or not pattern.strip():
                raise ValueError(item)
            result[pattern.strip()] = float(seconds)
        except ValueError:
            raise LabError(f"--latency item {item!r} is not 'command=seconds'") from None
    return result

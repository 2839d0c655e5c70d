"""The node's operating system: its family, packages, repository and systemd units."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from oneupgrade import releases
from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.transport.node import Node

APT_REPO_FILE = "/etc/apt/sources.list.d/opennebula.list"
YUM_REPO_FILE = "/etc/yum.repos.d/opennebula.repo"
# The series (or pinned release) in a repository URL: .../repo/6.10/Debian/12 (reference §5.3)
_REPO_SERIES = re.compile(r"(/repo/)(\d+\.\d+(?:\.\d+)*)(/)")
# Unattended apt: keep modified configuration files (doc step 6, pitfall 11).
APT_ENV = "DEBIAN_FRONTEND=noninteractive"
APT_OPTIONS = "-y -q -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef"
PROXY_UNITS = {"nginx": ("nginx.service",), "apache": ("apache2.service", "httpd.service")}


@dataclass(frozen=True)
class Platform:
    family: str  # "deb" or "rpm"
    name: str  # PRETTY_NAME
    os_id: str = ""  # ID: debian, ubuntu, almalinux, rhel ...
    version_id: str = ""  # VERSION_ID: 12, 24.04, 9.4

    @property
    def repo_file(self) -> str:
        return APT_REPO_FILE if self.family == "deb" else YUM_REPO_FILE


def platform(node: Node) -> Platform:
    """The node's OS family, read once per run (an upgrade does not change it)."""
    known = node.known.get("platform")
    if isinstance(known, Platform):
        return known
    found = node.known["platform"] = _platform(node)
    return found


def _platform(node: Node) -> Platform:
    return _parse_platform(node, node.run("cat /etc/os-release").stdout)


def _parse_platform(node: Node, text: str) -> Platform:
    fields = dict(
        (k, v.strip('"')) for k, _, v in (line.partition("=") for line in text.splitlines()) if k
    )
    ids = {fields.get("ID", "")} | set(fields.get("ID_LIKE", "").split())
    if ids & {"debian", "ubuntu"}:
        family = "deb"
    elif ids & {"rhel", "fedora", "centos", "almalinux", "rocky"}:
        family = "rpm"
    else:
        raise PreconditionFailed(
            f"{node}: unsupported OS {fields.get('PRETTY_NAME', '?')!r}; "
            "OpenNebula runs on Debian, Ubuntu and RHEL/AlmaLinux"
        )
    return Platform(
        family, fields.get("PRETTY_NAME", ""), fields.get("ID", ""), fields.get("VERSION_ID", "")
    )


_DEB_QUERY = (
    "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' "
    "'opennebula*' python3-pyone 2>/dev/null"
)
_RPM_QUERY = "rpm -qa --qf '%{NAME} %{VERSION}\\n' 'opennebula*' python3-pyone 2>/dev/null"
_MARK = "--- oneupgrade:"


def installed_packages(node: Node, family: str) -> dict[str, str]:
    """Installed OpenNebula packages and their versions (`6.10.5`, package suffix dropped)."""
    if family == "deb":
        return _parse_deb(node.run(f"{_DEB_QUERY} || true").stdout)
    return _parse_rpm(node.run(f"{_RPM_QUERY} || true").stdout)


def platform_and_packages(node: Node) -> tuple[Platform, dict[str, str]]:
    """`platform` and `installed_packages` in one round trip: preflight asks every node,
    and with hundreds of them each round trip counts. Both package tools are asked (a
    missing one answers nothing); the OS family decides whose answer is read."""
    out = node.run(
        f"cat /etc/os-release; echo '{_MARK}deb'; {_DEB_QUERY}; "
        f"echo '{_MARK}rpm'; {_RPM_QUERY}; true"
    ).stdout
    text, _, rest = out.partition(f"{_MARK}deb\n")
    deb, _, rpm = rest.partition(f"{_MARK}rpm\n")
    if not text.strip():
        raise PreconditionFailed(f"{node}: /etc/os-release is missing or empty")
    plat = node.known["platform"] = _parse_platform(node, text)
    return plat, (_parse_deb(deb) if plat.family == "deb" else _parse_rpm(rpm))


def _parse_deb(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("ii"):
            found[parts[0]] = parts[1].split("-", 1)[0]
    return found


def _parse_rpm(out: str) -> dict[str, str]:
    return dict(line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2)


def _repository_text(node: Node, plat: Platform) -> str:
    try:
        return node.read_file(plat.repo_file)
    except CommandFailed:
        raise PreconditionFailed(
            f"{node}: no OpenNebula repository file {plat.repo_file}; configure the "
            "repository as the OpenNebula installation guide describes"
        ) from None


def repository_series(node: Node, plat: Platform) -> str | None:
    match = _REPO_SERIES.search(_repository_text(node, plat))
    return match.group(2) if match else None


def switch_repository(node: Node, plat: Platform, target_series: str) -> bool:
    """Point the OpenNebula repository at the target series (doc step 5).

    Returns False when it already does (nothing changed).
    """
    text = _repository_text(node, plat)
    new = _REPO_SERIES.sub(rf"\g<1>{target_series}\g<3>", text)
    if new == text:
        return False
    node.write_file(plat.repo_file, new)
    return True


def refresh_repository(node: Node, plat: Platform, timeout: float) -> None:
    if plat.family == "deb":
        node.run("apt-get update -q", mutating=True, timeout=timeout)
    else:
        node.run("dnf -y -q makecache", mutating=True, timeout=timeout)


def upgrade_command(plat: Platform, packages: list[str], *, download_only: bool = False) -> str:
    """Upgrade installed packages only (the doc's `--only-upgrade`, dnf's `upgrade`)."""
    return _package_command(plat, packages, download_only, upgrade=True)


def install_command(plat: Platform, packages: list[str], *, download_only: bool = False) -> str:
    """Install packages that are not installed yet (the migrators, say)."""
    return _package_command(plat, packages, download_only, upgrade=False)


def transaction_commands(
    plat: Platform, upgrade: list[str], install: list[str], *, download_only: bool = False
) -> list[str]:
    """The package commands that upgrade the installed `upgrade` and install `install`.

    On apt one transaction does both: `apt-get install` upgrades a named installed package
    as `--only-upgrade` does, and `upgrade` names installed packages only, so the doc's
    guard holds; one dpkg run instead of two is one unpack-and-configure pass less inside
    the outage. dnf's `install` leaves an installed package as it is unless its version
    is named, so EL keeps the doc's two transactions."""
    if plat.family == "deb" and upgrade and install:
        return [install_command(plat, [*upgrade, *install], download_only=download_only)]
    commands = [upgrade_command(plat, upgrade, download_only=download_only)] if upgrade else []
    if install:
        commands.append(install_command(plat, install, download_only=download_only))
    return commands


def _package_command(
    plat: Platform, packages: list[str], download_only: bool, upgrade: bool
) -> str:
    names = " ".join(shlex.quote(p) for p in packages)
    if plat.family == "deb":
        only = " --only-upgrade" if upgrade else ""
        extra = " --download-only" if download_only else ""
        return f"{APT_ENV} apt-get install{only} {APT_OPTIONS}{extra} {names}"
    extra = " --downloadonly" if download_only else ""
    return f"dnf -y {'upgrade' if upgrade else 'install'}{extra} {names}"


def upgrade_packages(node: Node, plat: Platform, packages: list[str], timeout: float) -> None:
    if packages:
        node.run(upgrade_command(plat, packages), mutating=True, timeout=timeout, detach=True)


def install_packages(node: Node, plat: Platform, packages: list[str], timeout: float) -> None:
    if packages:
        node.run(install_command(plat, packages), mutating=True, timeout=timeout, detach=True)


def upgrade_and_install(
    node: Node, plat: Platform, upgrade: list[str], install: list[str], timeout: float
) -> None:
    for command in transaction_commands(plat, upgrade, install):
        # detached: a transaction must not die half way with the controller's connection
        node.run(command, mutating=True, timeout=timeout, detach=True)


def repository_offers(node: Node, plat: Platform, package: str) -> bool:
    """Whether the refreshed repositories offer `package` (installed or not)."""
    name = shlex.quote(package)
    if plat.family == "deb":
        command = f"apt-cache show {name}"
    else:
        command = f"dnf -q list --available {name}"
    return node.run(command, check=False).ok


def candidate_version(node: Node, plat: Platform, package: str) -> str | None:
    """The version the package manager would install from the refreshed repositories."""
    name = shlex.quote(package)
    if plat.family == "deb":
        out = node.run(f"apt-cache policy {name}", check=False).stdout
        match = re.search(r"^\s*Candidate:\s*(\S+)", out, re.M)
        found = match.group(1) if match else None
        return None if found in (None, "(none)") else found
    command = f"dnf -q repoquery --latest-limit=1 --queryformat '%{{version}}' {name}"
    lines = node.run(command, check=False).stdout.split()
    return lines[-1] if lines else None


def at_target(version: str | None, target: str) -> bool:
    """Whether an installed version satisfies the target (a series or an exact release)."""
    if not version:
        return False
    if target.count(".") == 1:
        return releases.series_of(version) == target
    return releases.parse(version) == releases.parse(target)


# -- systemd ------------------------------------------------------------------------


def active_units(node: Node, pattern: str = "opennebula*") -> list[str]:
    out = node.run(
        "systemctl list-units --all --plain --no-legend --no-pager "
        f"--state=active {shlex.quote(pattern)}",
    ).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def existing_units(node: Node, units: list[str]) -> list[str]:
    if not units:
        return []
    quoted = " ".join(shlex.quote(u) for u in units)
    out = node.run(
        f"systemctl list-unit-files --no-legend --no-pager --plain {quoted}", check=False
    ).stdout
    present = {line.split()[0] for line in out.splitlines() if line.strip()}
    return [u for u in units if u in present]


def active_proxy_units(node: Node, proxy: str) -> list[str]:
    """The web proxy in front of FireEdge that is running (doc step 3 "Important")."""
    if proxy == "none":
        return []
    candidates = (
        [u for units in PROXY_UNITS.values() for u in units]
        if proxy == "auto"
        else list(PROXY_UNITS[proxy])
    )
    # One probe for all of them: `systemctl is-active` prints one state per unit, in order
    # (its exit status only says whether all are active).
    names = " ".join(shlex.quote(u) for u in candidates)
    states = node.run(f"systemctl is-active {names}", check=False).stdout.split()
    if len(states) != len(candidates):
        return []
    return [unit for unit, state in zip(candidates, states, strict=True) if state == "active"]


def stop_units(node: Node, units: list[str], timeout: float = 300) -> None:
    if units:
        names = " ".join(shlex.quote(u) for u in units)
        node.run(f"systemctl stop {names}", mutating=True, timeout=timeout)


def start_units(node: Node, units: list[str], timeout: float = 300) -> None:
    if units:
        names = " ".join(shlex.quote(u) for u in units)
        node.run(f"systemctl start {names}", mutating=True, timeout=timeout)

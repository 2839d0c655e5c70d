"""Release knowledge: what differs between OpenNebula releases, in one table.

Everything the runbook does differently by version is looked up here, never
branched on in the steps. Sources: reference notes on the 6.10, 7.0, 7.2 and 7.4
"Upgrading Single Front-end" and "Upgrading High Availability Clusters" pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The releases this tool knows, per series (the patch releases that were published).
RELEASES: dict[str, tuple[str, ...]] = {
    "6.8": ("6.8.0", "6.8.1", "6.8.2", "6.8.3"),
    "6.10": ("6.10.0", "6.10.1", "6.10.2", "6.10.3", "6.10.4", "6.10.5"),
    "7.0": ("7.0.0", "7.0.1", "7.0.2", "7.0.3"),
    "7.2": ("7.2.0", "7.2.1"),
    "7.4": ("7.4.0",),
}

_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


def parse(version: str) -> tuple[int, ...]:
    """`"6.10.5"` -> `(6, 10, 5)`; tolerant of package suffixes (`7.0.0-1`, `7.0.0.1`)."""
    core = version.split("-", 1)[0]
    return tuple(int(part) for part in core.split(".") if part.isdigit())


def series_of(version: str) -> str:
    major, minor = parse(version)[:2]
    return f"{major}.{minor}"


def is_known(target: str) -> bool:
    """A target is a known series (`7.0`) or a known exact release (`7.0.1`)."""
    if not _VERSION.match(target):
        return False
    if target.count(".") == 1:
        return target in RELEASES
    return target in RELEASES.get(series_of(target), ())


def known_targets() -> list[str]:
    return [*RELEASES, *(r for rs in RELEASES.values() for r in rs)]


def latest(series: str) -> str:
    return RELEASES[series][-1]


def resolve(target: str) -> str:
    """The exact release a target names: a series means its newest release."""
    return latest(target) if target.count(".") == 1 else target


@dataclass(frozen=True)
class Series:
    """What one release series ships and what its upgrade guide says."""

    name: str
    # systemd units shipped by the front-end packages (reference §5.1)
    units: tuple[str, ...]
    # "Upgrading Single Front-end" step 6 package list (Debian/Ubuntu and RHEL families)
    frontend_packages_deb: tuple[str, ...]
    frontend_packages_rpm: tuple[str, ...]
    # The packages that carry onedb's migrators to this series, any one of them: 6.x
    # Enterprise `opennebula-migration`, Community `opennebula-migration-community`; from
    # 7.0 `opennebula-migration` in both editions.
    migration_packages: tuple[str, ...] = ("opennebula-migration",)


_COMMON_UNITS = (
    "opennebula.service",
    "opennebula-hem.service",
    "opennebula-flow.service",
    "opennebula-gate.service",
    "opennebula-fireedge.service",
    "opennebula-guacd.service",
    "opennebula-ssh-agent.service",
    "opennebula-ssh-socks-cleaner.service",
    "opennebula-ssh-socks-cleaner.timer",
    "opennebula-showback.service",
    "opennebula-showback.timer",
)
_PKGS_6 = (
    "opennebula",
    "opennebula-gate",
    "opennebula-flow",
    "opennebula-provision",
    "opennebula-fireedge",
    "python3-pyone",
)
_PKGS_7 = (
    "opennebula",
    "opennebula-gate",
    "opennebula-flow",
    "opennebula-fireedge",
    "opennebula-migration",
    "python3-pyone",
)
_MIGRATION_6 = ("opennebula-migration", "opennebula-migration-community")
# 6.8 and 6.10 still ship the scheduler and Ruby Sunstone with noVNC; 7.0 drops all three.
_UNITS_6 = (
    *_COMMON_UNITS,
    "opennebula-scheduler.service",
    "opennebula-sunstone.service",
    "opennebula-novnc.service",
)

SERIES: dict[str, Series] = {
    "6.8": Series(
        "6.8",
        _UNITS_6,
        _PKGS_6,
        _PKGS_6,
        _MIGRATION_6,
    ),
    "6.10": Series(
        "6.10",
        _UNITS_6,
        _PKGS_6,
        _PKGS_6,
        _MIGRATION_6,
    ),
    "7.0": Series("7.0", _COMMON_UNITS, _PKGS_7, _PKGS_7),
    "7.2": Series("7.2", (*_COMMON_UNITS, "opennebula-form.service"), _PKGS_7, _PKGS_7),
    "7.4": Series(
        "7.4",
        (*_COMMON_UNITS, "opennebula-form.service"),
        _PKGS_7,
        (*_PKGS_7, "opennebula-form", "opennebula-guacd"),
    ),
}


def series(version: str) -> Series:
    return SERIES[series_of(version)]


def zone_can_be_disabled(source_release: str) -> bool:
    """`onezone disable` exists from 6.2 on (reference §2.6)."""
    return parse(source_release) >= (6, 2)

"""Node-local state: installed packages and systemd units (mirrored to the cluster)."""

from __future__ import annotations

import time

from . import catalogue, paths, state

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

Packages = dict[str, dict[str, str]]  # name -> {"version": release, "status": "ii"|"iF"}
# unit -> {"state": ..., "enabled": bool, "since": float}
Units = dict[str, dict[str, "Any"]]


def load_pkgstate() -> dict[str, Any]:
    data = state.load_local("packages", {})
    assert isinstance(data, dict)
    data.setdefault("installed", {})
    data.setdefault("cache", [])
    return data


def installed() -> Packages:
    pk = load_pkgstate()["installed"]
    assert isinstance(pk, dict)
    return pk


def load_units() -> Units:
    data = state.load_local("units", {})
    assert isinstance(data, dict)
    return data


def existing_units(pkgs: Packages) -> list[str]:
    out: list[str] = []
    for name, info in pkgs.items():
        for unit in catalogue.units_of(name, info["version"]):
            if unit not in out:
                out.append(unit)
    return out


def unit_state(units: Units, unit: str) -> str:
    info = units.get(unit)
    return str(info["state"]) if info else "inactive"


def set_unit(units: Units, unit: str, value: str) -> None:
    info = units.setdefault(unit, {"state": "inactive", "enabled": True, "since": 0.0})
    if info["state"] != value:
        info["state"] = value
        info["since"] = time.time()


def probe(pkgs: Packages, units: Units) -> dict[str, Any]:
    """What a monitoring probe would report about this node."""
    exist = existing_units(pkgs)
    return {
        "packages": {n: i["version"] for n, i in pkgs.items()},
        "units": {u: unit_state(units, u) for u in exist},
    }


def mirror(st: dict[str, Any]) -> None:
    """Copy this node's packages and units into the cluster state."""
    name = paths.node().get("name")
    if not name:
        return
    st.setdefault("probe", {})[name] = probe(installed(), load_units())


def frontend_release(pkgs: Packages) -> str | None:
    info = pkgs.get("opennebula")
    return info["version"] if info else None


def node_release(pkgs: Packages) -> str | None:
    for name in ("opennebula", *catalogue.NODE_PACKAGES):
        if name in pkgs:
            return pkgs[name]["version"]
    return None

"""systemctl is-active, is-enabled, is-failed, status, list-units, list-unit-files."""

from __future__ import annotations

import time

from .. import catalogue, globs, nodestate
from .common import err, out
from .units import expand, sub_state, unit_name


def is_active(args: list[str], quiet: bool) -> int:
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    rc = 0
    for a in args:
        u = unit_name(a)
        s = nodestate.unit_state(units, u) if u in exist else "inactive"
        if not quiet:
            out(s)
        if s != "active":
            rc = 3
    return rc


def is_failed(args: list[str], quiet: bool) -> int:
    units = nodestate.load_units()
    failed = [nodestate.unit_state(units, unit_name(a)) == "failed" for a in args]
    for a, f in zip(args, failed, strict=True):
        if not quiet:
            out("failed" if f else nodestate.unit_state(units, unit_name(a)))
    return 0 if any(failed) else 1


def is_enabled(args: list[str], quiet: bool) -> int:
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    rc = 0
    for a in args:
        u = unit_name(a)
        if u not in exist:
            err(f"Failed to get unit file state for {u}: No such file or directory")
            rc = 1
            continue
        enabled = bool(units.get(u, {}).get("enabled", True))
        if not quiet:
            out("enabled" if enabled else "disabled")
        rc = rc if enabled else 1
    return rc


def status(args: list[str]) -> int:
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    rc = 0
    for u in expand(args, exist):
        if u not in exist:
            err(f"Unit {u} could not be found.")
            rc = 4
            continue
        s = nodestate.unit_state(units, u)
        info = units.get(u, {})
        since = time.strftime(
            "%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info.get("since", 0.0)) or time.time())
        )
        dot = "●" if s != "failed" else "×"
        enabled = "enabled" if info.get("enabled", True) else "disabled"
        out(f"{dot} {u} - {catalogue.UNIT_DESCRIPTIONS.get(u, u)}")
        out(f"     Loaded: loaded (/lib/systemd/system/{u}; {enabled}; preset: enabled)")
        detail = {"active": f"active ({sub_state(u, s)})", "failed": "failed (Result: exit-code)"}
        out(f"     Active: {detail.get(s, 'inactive (dead)')} since {since}")
        if s != "active":
            rc = max(rc, 3)
    return rc


def _unit_rows(opts: list[str], patterns: list[str]) -> list[tuple[str, str, str, str]]:
    """(unit, active, sub, description) of the units list-units shows."""
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    show_all = "--all" in opts or "-a" in opts
    types: list[str] = []
    states: list[str] = []
    for o in opts:
        if o.startswith(("--type=", "-t=")):
            types += o.split("=", 1)[1].split(",")
        if o.startswith("--state="):
            states += o.split("=", 1)[1].split(",")
    rows: list[tuple[str, str, str, str]] = []
    for u in sorted(exist):
        s = nodestate.unit_state(units, u)
        sub = sub_state(u, s)
        if types and not any(u.endswith("." + t) for t in types):
            continue
        if patterns and not any(globs.matches(u, unit_name(p)) for p in patterns):
            continue
        if states:
            if s not in states and sub not in states:
                continue
        elif not show_all and s == "inactive":
            continue
        rows.append((u, s, sub, catalogue.UNIT_DESCRIPTIONS.get(u, u)))
    return rows


def list_units(opts: list[str], patterns: list[str]) -> int:
    rows = _unit_rows(opts, patterns)
    show_all = "--all" in opts or "-a" in opts
    plain = "--plain" in opts
    legend = "--no-legend" not in opts
    w = max([len("UNIT")] + [len(r[0]) for r in rows])
    prefix = "" if plain else "  "
    if legend:
        out(f"{prefix}{'UNIT':<{w}} LOAD   ACTIVE SUB     DESCRIPTION")
    for u, s, sub, desc in rows:
        mark = "" if plain else ("● " if s == "failed" else "  ")
        out(f"{mark}{u:<{w}} loaded {s:<6} {sub:<7} {desc}")
    if legend:
        out("")
        out("LOAD   = Reflects whether the unit definition was properly loaded.")
        out("ACTIVE = The high-level unit activation state, i.e. generalization of SUB.")
        out("SUB    = The low-level unit activation state, values depend on unit type.")
        tail = "" if show_all else " Pass --all to see loaded but inactive units, too."
        out(f"{len(rows)} loaded units listed.{tail}")
        out("To show all installed unit files use 'systemctl list-unit-files'.")
    return 0


def list_unit_files(opts: list[str], patterns: list[str]) -> int:
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    rows = [
        u
        for u in sorted(exist)
        if not patterns or any(globs.matches(u, unit_name(p)) for p in patterns)
    ]
    legend = "--no-legend" not in opts
    w = max([len("UNIT FILE")] + [len(u) for u in rows])
    if legend:
        out(f"{'UNIT FILE':<{w}} STATE    PRESET")
    for u in rows:
        en = "enabled" if units.get(u, {}).get("enabled", True) else "disabled"
        out(f"{u:<{w}} {en:<8} enabled")
    if legend:
        out("")
        out(f"{len(rows)} unit files listed.")
    return 0

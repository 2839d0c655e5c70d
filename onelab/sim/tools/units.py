"""Unit names as systemctl reads them (a bare name is a .service; a glob expands over
the existing units) and the sub-state a unit shows."""

from __future__ import annotations

from .. import globs

TYPES = (".service", ".timer", ".socket", ".target", ".mount", ".path")


def unit_name(arg: str) -> str:
    return arg if arg.endswith(TYPES) or is_glob(arg) else f"{arg}.service"


def is_glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def expand(args: list[str], existing: list[str]) -> list[str]:
    out_: list[str] = []
    for a in args:
        if is_glob(a):
            out_ += [u for u in sorted(existing) if globs.matches(u, a) and u not in out_]
        else:
            out_.append(unit_name(a))
    return out_


def sub_state(unit: str, active: str) -> str:
    if active == "active":
        return "waiting" if unit.endswith(".timer") else "running"
    return "failed" if active == "failed" else "dead"

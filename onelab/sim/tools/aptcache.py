"""apt-cache: policy, madison, show (from the lists of the last apt-get update)."""

from __future__ import annotations

from .. import catalogue, nodestate, packages
from .common import Fail, err, out


def _policy(
    names: list[str], offered: dict[str, list[str]], installed: nodestate.Packages, base: str
) -> int:
    for name in names:
        inst = installed.get(name)
        vers = offered.get(name, [])
        if inst is None and not vers:
            err(f"N: Unable to locate package {name}")
            continue
        cand = vers[-1] if vers else (inst["version"] if inst else None)
        out(f"{name}:")
        iv = catalogue.deb_version(inst["version"]) if inst else "(none)"
        out(f"  Installed: {iv}")
        out(f"  Candidate: {catalogue.deb_version(cand) if cand else '(none)'}")
        out("  Version table:")
        allv = sorted(set(vers) | ({inst["version"]} if inst else set()), key=catalogue.vkey)
        for v in reversed(allv):
            star = " ***" if inst and inst["version"] == v else "    "
            prio = 500 if v in vers else 100
            out(f"{star} {catalogue.deb_version(v)} {prio}")
            if v in vers:
                out(f"        500 {base} stable/opennebula amd64 Packages")
            if inst and inst["version"] == v:
                out("        100 /var/lib/dpkg/status")
    return 0


def _madison(names: list[str], offered: dict[str, list[str]], base: str) -> int:
    for name in names:
        for v in reversed(offered.get(name, [])):
            out(
                f"{name:>10} | {catalogue.deb_version(v):>10} | "
                f"{base} stable/opennebula amd64 Packages"
            )
    return 0


def _show(names: list[str], offered: dict[str, list[str]]) -> int:
    rc = 0
    for name in names:
        vers = offered.get(name, [])
        if not vers:
            err("E: No packages found")
            rc = 100
            continue
        out(f"Package: {name}\nVersion: {catalogue.deb_version(vers[-1])}\nArchitecture: amd64\n")
    return rc


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        raise Fail("E: No packages found", 100)
    cmd, names = args[0], args[1:]
    urls, offered = packages.apt_lists()
    installed = nodestate.installed()
    base = urls[0] if urls else ""
    if cmd == "policy":
        return _policy(names, offered, installed, base)
    if cmd == "madison":
        return _madison(names, offered, base)
    if cmd == "show":
        return _show(names, offered)
    raise Fail(f"E: Invalid operation {cmd}", 100)

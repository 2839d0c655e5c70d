"""The command line: systemctl's options and verbs; `main` is the program."""

from __future__ import annotations

import os

from . import console
from .console import err
from .install import install
from .jobs import start, stop
from .show import is_active, is_enabled, list_unit_files, list_units, show, status
from .state import effective, loaded, save_state
from .units import expand, find, is_glob, unit_name

CHANGES = (
    "start", "stop", "restart", "try-restart", "reload-or-restart", "reset-failed",
    "enable", "disable", "mask", "unmask",
)  # fmt: skip


def parse_args(argv: list[str]) -> tuple[list[str], set[str], dict[str, list[str]]]:
    valued = {"-p": "--property", "-t": "--type", "-n": "--lines"}
    valued |= {v: v for v in ("--property", "--type", "--state", "--lines")}
    args: list[str] = []
    flags: set[str] = set()
    opts: dict[str, list[str]] = {}
    it = iter(argv)
    for a in it:
        if a in valued:
            opts.setdefault(valued[a], []).append(next(it, ""))
        elif a.startswith("--") and "=" in a:
            key, _, value = a.partition("=")
            opts.setdefault(valued.get(key, key), []).append(value)
        elif a[:2] in ("-p", "-t", "-n") and len(a) > 2:
            opts.setdefault(valued[a[:2]], []).append(a[2:])
        elif a.startswith("-") and len(a) > 1:
            flags.add({"-a": "--all", "-q": "--quiet", "-l": "--full"}.get(a, a))
        else:
            args.append(a)
    return args, flags, opts


def main(argv: list[str]) -> int:
    args, flags, opts = parse_args(argv)
    console.QUIET = "--quiet" in flags
    cmd, rest = (args[0], args[1:]) if args else ("list-units", [])
    if cmd not in CHANGES:
        return query(cmd, rest, flags, opts)
    if "--no-block" in flags and os.fork():
        return 0  # the forked child below does the job, detached from our caller
    if "--no-block" in flags:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    return mutate(cmd, rest, flags)


def query(cmd: str, rest: list[str], flags: set[str], opts: dict[str, list[str]]) -> int:
    """A verb that changes nothing (or an unknown one)."""
    names = [unit_name(a) for a in rest]
    if cmd in ("is-active", "is-failed"):
        return is_active(cmd, names)
    if cmd == "is-enabled":
        return is_enabled(names)
    if cmd == "status":
        lines = int((opts.get("--lines") or ["10"])[-1])
        return status(expand(rest, loaded()) if rest else loaded(), lines)
    if cmd == "show":
        want = [p for v in opts.get("--property", []) for p in v.split(",") if p]
        return show(names, want, "--value" in flags)
    if cmd == "list-units":
        return list_units(flags, opts, rest)
    if cmd == "list-unit-files":
        return list_unit_files(flags, rest)
    if cmd == "daemon-reload":
        return 0
    err(f'Unknown command verb "{cmd}".')
    return 1


def mutate(cmd: str, args: list[str], flags: set[str]) -> int:
    if not args:
        err("Too few arguments.")
        return 1
    if os.geteuid() != 0:
        err(f"Failed to {cmd} {unit_name(args[0])}: Access denied")
        return 1
    globbed = [a for a in args if is_glob(a)]
    names = expand(args, loaded())
    if cmd == "start":
        return start(names)
    if cmd == "stop":
        return stop(names, expand(globbed, loaded()))[0]
    if cmd in ("restart", "reload-or-restart", "try-restart"):
        if cmd == "try-restart":
            names = [n for n in names if effective(n) == "active"]
        _, done = stop([n for n in names if find(n)], names)
        return start(names + [n for n in done if n not in names])
    if cmd == "reset-failed":
        for n in names:
            if effective(n) == "failed":
                save_state(n, state="inactive")
        return 0
    return install(cmd, names, flags)

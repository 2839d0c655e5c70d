"""systemctl over the simulated units (which exist follows the installed packages)."""

from __future__ import annotations

from . import unit_queries
from .common import Fail
from .unit_jobs import mutate

JOBS = ("start", "stop", "restart", "try-restart", "reload-or-restart", "enable", "disable")


def _join_values(argv: list[str]) -> list[str]:
    """`-t service` / `--type service` / `--state active` -> `--type=service` etc."""
    out_: list[str] = []
    it = iter(argv)
    for a in it:
        if a in ("-t", "--type", "--state"):
            out_.append(f"{'--type' if a == '-t' else a}={next(it, '')}")
        else:
            out_.append(a)
    return out_


def run(tool: str, argv: list[str]) -> int:
    argv = _join_values(argv)
    opts = [a for a in argv if a.startswith("-")]
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        return unit_queries.list_units(opts, [])
    cmd, rest = args[0], args[1:]
    quiet = "-q" in opts or "--quiet" in opts
    if cmd in JOBS:
        if not rest:
            raise Fail("Too few arguments.", 1)
        if cmd in ("enable", "disable") and "--now" in opts:
            rc = mutate(cmd, rest)
            return rc or mutate("start" if cmd == "enable" else "stop", rest)
        return mutate(cmd, rest)
    if cmd == "is-active":
        return unit_queries.is_active(rest, quiet)
    if cmd == "is-enabled":
        return unit_queries.is_enabled(rest, quiet)
    if cmd == "is-failed":
        return unit_queries.is_failed(rest, quiet)
    if cmd == "status":
        return unit_queries.status(rest)
    if cmd == "list-units":
        return unit_queries.list_units(opts, rest)
    if cmd == "list-unit-files":
        return unit_queries.list_unit_files(opts, rest)
    if cmd == "daemon-reload":
        return 0
    raise Fail(f'Unknown command verb "{cmd}".', 1)

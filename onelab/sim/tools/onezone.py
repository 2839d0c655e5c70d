"""onezone: show, list, enable, disable."""

from __future__ import annotations

from .. import pool, raft, state
from .common import Fail, dump_json, err, fmt, header, out, require_oned, xml

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

RAFT_TEXT = {"0": "solo", "1": "candidate", "2": "follower", "3": "leader"}
USAGE = "Usage: onezone COMMAND [args..] [options..]"


def _find(data: dict[str, Any], ref: str) -> dict[str, Any]:
    z = data["zone"]
    if ref in (str(z["id"]), z["name"]):
        return dict(z)
    if ref.isdigit():
        raise Fail(f"[one.zone.info] Error getting zone [{ref}].")
    raise Fail(f"ZONE named {ref} not found.")


def show_text(zone: dict[str, Any]) -> str:
    attr = "%-18s: %-20s"
    lines = [header(f"ZONE {zone['ID']} INFORMATION")]
    lines.append(attr % ("ID", zone["ID"]))
    lines.append(attr % ("NAME", zone["NAME"]))
    lines.append(attr % ("STATE", "ENABLED" if zone["STATE"] == "0" else "DISABLED"))
    lines.append("")
    servers = zone["SERVER_POOL"].get("SERVER", [])
    if servers:
        lines.append("")
        lines.append(header("ZONE SERVERS"))
        lines.append("%2.2s %-15.15s %-63.63s" % ("ID", "NAME", "ENDPOINT"))  # noqa: UP031
        for s in servers:
            row = "%2.2s %-15.15s %-63.63s" % (s["ID"], s["NAME"], s["ENDPOINT"])  # noqa: UP031
            lines.append(row.rstrip())
        lines.append("")
        lines.append(header("HA & FEDERATION SYNC STATUS"))
        cols = "%2.2s %-15.15s %-10.10s %-10.10s %-10.10s %-10.10s %-5.5s %-10.10s"
        lines.append(cols % ("ID", "NAME", "STATE", "TERM", "INDEX", "COMMIT", "VOTE", "FED_INDEX"))
        for s in servers:
            row = cols % (
                s["ID"],
                s["NAME"],
                RAFT_TEXT.get(s["STATE"], "error"),
                s["TERM"],
                s["LOG_INDEX"],
                s["COMMIT"],
                s["VOTEDFOR"],
                s["FEDLOG_INDEX"],
            )
            lines.append(row.rstrip())
    lines.append("")
    lines.append(header("ZONE TEMPLATE"))
    lines.append(f'ENDPOINT="{zone["TEMPLATE"]["ENDPOINT"]}"')
    return "\n".join(lines)


def list_text(zone: dict[str, Any], fed_index: str) -> str:
    cols = "%1.1s %4.4s %-15.15s %-45.45s %-10.10s %-4.4s"
    lines = [cols % ("C", "ID", "NAME", "ENDPOINT", "FED_INDEX", "STAT")]
    stat = "on" if zone["STATE"] == "0" else "off"
    row = cols % ("", zone["ID"], zone["NAME"], zone["TEMPLATE"]["ENDPOINT"], fed_index, stat)
    lines.append(row.rstrip())
    return "\n".join(lines)


def _show(flags: list[str], rest: list[str]) -> int:
    if not rest:
        raise Fail("onezone show: missing argument zoneid", 255)
    st = state.load()
    me = require_oned(st)
    data = raft.read_db(st, me)["data"]
    _find(data, rest[0])
    zone = pool.zone_json(st, data, raft_fields=True)
    f = fmt(flags)
    if f == "json":
        out(dump_json({"ZONE": zone}))
    elif f == "xml":
        out(xml("ZONE", zone))
    else:
        out(show_text(zone))
    return 0


def _list(flags: list[str]) -> int:
    st = state.load()
    me = require_oned(st)
    data = raft.read_db(st, me)["data"]
    zone = pool.zone_json(st, data, raft_fields=False)
    f = fmt(flags)
    if f == "json":
        out(dump_json({"ZONE_POOL": {"ZONE": [zone]}}))
    elif f == "xml":
        out(xml("ZONE_POOL", {"ZONE": [zone]}))
    else:
        out(list_text(zone, "-1" if raft.leader(st) else "-"))
    return 0


def _enable(cmd: str, flags: list[str], rest: list[str]) -> int:
    """`onezone enable|disable`: the zone's state, through the leader."""
    if not rest:
        raise Fail(f"onezone {cmd}: missing argument zoneid", 255)
    verbose = "-v" in flags or "--verbose" in flags
    rc = 0
    with state.mutate() as st:
        require_oned(st)
        for ref in rest[0].split(","):
            data, error = raft.write(st, "one.zone.enable", allow_disabled=True)
            if error is None:
                try:
                    _find(data, ref)
                except Fail as exc:
                    error = exc.message
            if error is not None:
                err(error)
                rc = 255
                continue
            data["zone"]["state"] = 0 if cmd == "enable" else 1
            raft.commit(st)
            if verbose:
                out(f"ZONE {ref}: {cmd} zone")
    return rc


def run(tool: str, argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        raise Fail(USAGE, 255)
    cmd, rest = args[0], args[1:]
    if cmd == "show":
        return _show(flags, rest)
    if cmd == "list":
        return _list(flags)
    if cmd in ("enable", "disable"):
        return _enable(cmd, flags, rest)
    raise Fail(f"onezone: unknown command {cmd!r}\n{USAGE}", 255)

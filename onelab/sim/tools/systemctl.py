"""systemctl over the simulated units (which exist follows the installed packages)."""

from __future__ import annotations

import time

from .. import catalogue, globs, nodestate, oned, paths, raft, state
from .common import Fail, err, me, out

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

TYPES = (".service", ".timer", ".socket", ".target", ".mount", ".path")
WANTS = {
    "opennebula.service": [
        "opennebula-scheduler.service",
        "opennebula-ssh-agent.service",
        "opennebula-ssh-socks-cleaner.timer",
    ],
    "opennebula-fireedge.service": ["opennebula-guacd.service"],
}
LEADER_WANTS = ["opennebula-hem.service", "opennebula-showback.timer"]
FAILED = (
    "Job for {u} failed because the control process exited with error code.\n"
    'See "systemctl status {u}" and "journalctl -xeu {u}" for details.'
)


def unit_name(arg: str) -> str:
    return arg if arg.endswith(TYPES) or _glob(arg) else f"{arg}.service"


def _glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def _expand(args: list[str], existing: list[str]) -> list[str]:
    out_: list[str] = []
    for a in args:
        if _glob(a):
            out_ += [u for u in sorted(existing) if globs.matches(u, a) and u not in out_]
        else:
            out_.append(unit_name(a))
    return out_


def sub_state(unit: str, active: str) -> str:
    if active == "active":
        return "waiting" if unit.endswith(".timer") else "running"
    return "failed" if active == "failed" else "dead"


# ------------------------------------------------------------------ mutations


def _start(st: dict[str, Any], units: nodestate.Units, unit: str, exist: list[str]) -> int:
    if unit not in exist:
        err(f"Failed to start {unit}: Unit {unit} not found.")
        return 5
    if nodestate.unit_state(units, unit) == "active":
        return 0
    if unit == "opennebula.service":
        name = me()
        sid, reason = oned.judge(st, name, nodestate.installed())
        if reason is not None:
            oned.log(reason)
            nodestate.set_unit(units, unit, "failed")
            err(FAILED.format(u=unit))
            return 1
        oned.start(st, name, sid)
        nodestate.set_unit(units, unit, "active")
        wants = list(WANTS[unit])
        if raft.leader(st) == name:
            wants += LEADER_WANTS
        for w in wants:
            if w in exist:
                nodestate.set_unit(units, w, "active")
        return 0
    nodestate.set_unit(units, unit, "active")
    for w in WANTS.get(unit, []):
        if w in exist:
            nodestate.set_unit(units, w, "active")
    return 0


def _stop(st: dict[str, Any], units: nodestate.Units, unit: str, exist: list[str]) -> int:
    if unit not in exist:
        err(f"Failed to stop {unit}: Unit {unit} not loaded.")
        return 5
    if unit == "opennebula.service":
        oned.stop(st, me())
    nodestate.set_unit(units, unit, "inactive")
    return 0


def _mutate(cmd: str, args: list[str]) -> int:
    rc = 0
    with state.mutate() as st:
        units = nodestate.load_units()
        exist = nodestate.existing_units(nodestate.installed())
        for unit in _expand(args, exist):
            r = 0
            if cmd == "start":
                r = _start(st, units, unit, exist)
            elif cmd == "stop":
                r = _stop(st, units, unit, exist)
            elif cmd in ("restart", "reload-or-restart"):
                if unit in exist and nodestate.unit_state(units, unit) == "active":
                    _stop(st, units, unit, exist)
                r = _start(st, units, unit, exist)
            elif cmd == "try-restart":
                if unit in exist and nodestate.unit_state(units, unit) == "active":
                    _stop(st, units, unit, exist)
                    r = _start(st, units, unit, exist)
            elif cmd in ("enable", "disable"):
                if unit not in exist:
                    err(f"Failed to {cmd} unit: Unit file {unit} does not exist.")
                    r = 1
                else:
                    units.setdefault(unit, {"state": "inactive", "since": 0.0})
                    units[unit]["enabled"] = cmd == "enable"
            rc = r if r else rc
        state.save_local("units", units)
        nodestate.mirror(st)
    return rc


# ---------------------------------------------------------------------- reads


def _is_active(args: list[str], quiet: bool) -> int:
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


def _is_enabled(args: list[str], quiet: bool) -> int:
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


def _status(args: list[str]) -> int:
    units = nodestate.load_units()
    exist = nodestate.existing_units(nodestate.installed())
    rc = 0
    for u in _expand(args, exist):
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


def _list_units(opts: list[str], patterns: list[str]) -> int:
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


def _list_unit_files(opts: list[str], patterns: list[str]) -> int:
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
    _ = paths
    if not args:
        return _list_units(opts, [])
    cmd, rest = args[0], args[1:]
    quiet = "-q" in opts or "--quiet" in opts
    if cmd in ("start", "stop", "restart", "try-restart", "reload-or-restart", "enable", "disable"):
        if not rest:
            raise Fail("Too few arguments.", 1)
        if cmd in ("enable", "disable") and "--now" in opts:
            rc = _mutate(cmd, rest)
            return rc or _mutate("start" if cmd == "enable" else "stop", rest)
        return _mutate(cmd, rest)
    if cmd == "is-active":
        return _is_active(rest, quiet)
    if cmd == "is-enabled":
        return _is_enabled(rest, quiet)
    if cmd == "is-failed":
        units = nodestate.load_units()
        failed = [nodestate.unit_state(units, unit_name(a)) == "failed" for a in rest]
        for a, f in zip(rest, failed, strict=True):
            if not quiet:
                out("failed" if f else nodestate.unit_state(units, unit_name(a)))
        return 0 if any(failed) else 1
    if cmd == "status":
        return _status(rest)
    if cmd == "list-units":
        return _list_units(opts, rest)
    if cmd == "list-unit-files":
        return _list_unit_files(opts, rest)
    if cmd == "daemon-reload":
        return 0
    raise Fail(f'Unknown command verb "{cmd}".', 1)

"""systemctl start, stop, restart, enable, disable: jobs on the simulated units
(starting opennebula.service starts oned, when oned's own checks pass)."""

from __future__ import annotations

from .. import nodestate, oned, raft, state
from .common import err, me
from .units import expand

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

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


def mutate(cmd: str, args: list[str]) -> int:
    rc = 0
    with state.mutate() as st:
        units = nodestate.load_units()
        exist = nodestate.existing_units(nodestate.installed())
        for unit in expand(args, exist):
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

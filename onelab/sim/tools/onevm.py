"""onevm: list, show."""

from __future__ import annotations

import time

from .. import raft, state
from ..vms import LCM_NAMES, LCM_SHORT, vm_json, vm_pool
from .common import Fail, dump_json, fmt, header, out, require_oned, xml

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

VM_SHORT = {0: "init", 1: "pend", 2: "hold", 4: "stop", 5: "susp", 6: "done", 8: "poff", 9: "unde"}


def stat(vm: dict[str, Any]) -> str:
    if vm["STATE"] == "3":
        return LCM_SHORT.get(int(vm["LCM_STATE"]), "actv")
    return VM_SHORT.get(int(vm["STATE"]), "fail")


def list_text(vms: list[dict[str, Any]]) -> str:
    cols = "%3s %-8.8s %-8.8s %-15.15s %-4.4s %4s %7s %-15.15s %14s"
    lines = [cols % ("ID", "USER", "GROUP", "NAME", "STAT", "CPU", "MEM", "HOST", "TIME")]
    for v in vms:
        history = v["HISTORY_RECORDS"]["HISTORY"]
        host = (history[-1] if isinstance(history, list) else history)["HOSTNAME"]
        age = int(time.time()) - int(v["STIME"])
        t = f"{age // 86400}d {age % 86400 // 3600:02d}h{age % 3600 // 60:02d}"
        row = cols % (v["ID"], v["UNAME"], v["GNAME"], v["NAME"], stat(v), "1", "1024M", host, t)
        lines.append(row.rstrip())
    return "\n".join(lines)


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        raise Fail("Usage: onevm COMMAND [args..] [options..]")
    cmd, rest = args[0], args[1:]
    st = state.load()
    me = require_oned(st)
    data = raft.read_db(st, me)["data"]
    f = fmt(argv)
    if cmd == "list":
        p = vm_pool(st, data)
        if f == "json":
            out(dump_json(p))
        elif f == "xml":
            out(xml("VM_POOL", p["VM_POOL"]))
        else:
            out(list_text(p["VM_POOL"].get("VM", [])))
        return 0
    if cmd == "show":
        if not rest:
            raise Fail("onevm show: missing argument vmid")
        for v in data["vms"]:
            if rest[0] in (str(v["id"]), v["name"]):
                vm = vm_json(st, v, time.time())
                if f == "json":
                    out(dump_json({"VM": vm}))
                elif f == "xml":
                    out(xml("VM", vm))
                else:
                    out(header(f"VIRTUAL MACHINE {vm['ID']} INFORMATION"))
                    out(f"{'ID':<16}: {vm['ID']}")
                    out(f"{'NAME':<16}: {vm['NAME']}")
                    out(f"{'STATE':<16}: {'ACTIVE' if vm['STATE'] == '3' else vm['STATE']}")
                    out(f"{'LCM_STATE':<16}: {LCM_NAMES[int(vm['LCM_STATE'])]}")
                return 0
        raise Fail(f"[one.vm.info] Error getting virtual machine [{rest[0]}].")
    raise Fail(f"onevm: unknown command {cmd!r}")

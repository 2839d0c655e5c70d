"""onevnet: list (the pool's networks with their VN_MAD), delete."""

from __future__ import annotations

from .. import raft, state
from .common import Fail, dump_json, err, fmt, out, require_oned, xml

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


def vnet_json(net: dict[str, Any]) -> dict[str, Any]:
    return {
        "ID": str(net["id"]),
        "UID": "0",
        "GID": "0",
        "UNAME": "oneadmin",
        "GNAME": "oneadmin",
        "NAME": net["name"],
        "BRIDGE": net.get("bridge", "br0"),
        "VN_MAD": net["vn_mad"],
        "CLUSTERS": {"ID": "0"},
        "TEMPLATE": {"VN_MAD": net["vn_mad"]},
    }


def delete(refs: list[str]) -> int:
    with state.mutate() as st:
        require_oned(st)
        data, error = raft.write(st, "one.vn.delete")
        if error is not None:
            err(error)
            return 255
        nets = data.setdefault("vnets", [])
        for ref in refs:
            found = [n for n in nets if ref in (str(n["id"]), n["name"])]
            if not found:
                err(f"[one.vn.info] Error getting virtual network [{ref}].")
                return 255
            nets.remove(found[0])
        raft.commit(st)
    return 0


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if args[:1] == ["delete"] and args[1:]:
        return delete(args[1:])
    if args[:1] != ["list"]:
        raise Fail("Usage: onevnet COMMAND [args..] [options..]")
    st = state.load()
    me = require_oned(st)
    nets = [vnet_json(n) for n in raft.read_db(st, me)["data"].get("vnets", [])]
    pool: dict[str, Any] = {"VNET_POOL": {"VNET": nets} if nets else {}}
    f = fmt(argv)
    if f == "json":
        out(dump_json(pool))
    elif f == "xml":
        out(xml("VNET_POOL", pool["VNET_POOL"]))
    else:
        lines = ["  ID USER     GROUP    NAME                CLUSTERS   BRIDGE   LEASES"]
        lines += [f"{int(n['ID']):4d} oneadmin oneadmin {n['NAME']:<19.19s} 0          "
                  f"{n['BRIDGE']:<8.8s} 0" for n in nets]  # fmt: skip
        out("\n".join(lines))
    return 0

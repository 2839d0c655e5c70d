"""onegroup: create, delete, list (the runbook's write probe; groups 0 and 1 are built in)."""

from __future__ import annotations

from .. import raft, state
from .common import Fail, dump_json, err, fmt, out, require_oned, xml

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

BUILT_IN = [{"id": 0, "name": "oneadmin"}, {"id": 1, "name": "users"}]
FIRST_USER_GROUP = 100  # OpenNebula's first user-created group id


def group_json(group: dict[str, Any]) -> dict[str, Any]:
    return {"ID": str(group["id"]), "NAME": group["name"], "TEMPLATE": {}, "USERS": {},
            "ADMINS": {}}  # fmt: skip


def _groups(data: dict[str, Any]) -> list[dict[str, Any]]:
    return BUILT_IN + list(data.get("groups", []))


def create(name: str) -> int:
    with state.mutate() as st:
        require_oned(st)
        data, error = raft.write(st, "one.group.allocate")
        if error is not None:
            err(error)
            return 255
        if any(g["name"] == name for g in _groups(data)):
            err(f"[one.group.allocate] NAME is already taken by GROUP {name}.")
            return 255
        gid = max(int(data.get("group_last_oid", FIRST_USER_GROUP - 1)), FIRST_USER_GROUP - 1) + 1
        data["group_last_oid"] = gid
        data.setdefault("groups", []).append({"id": gid, "name": name})
        raft.commit(st)
    out(f"ID: {gid}")
    return 0


def delete(refs: list[str]) -> int:
    with state.mutate() as st:
        require_oned(st)
        data, error = raft.write(st, "one.group.delete")
        if error is not None:
            err(error)
            return 255
        groups = data.setdefault("groups", [])
        for ref in refs:
            found = [g for g in groups if ref in (str(g["id"]), g["name"])]
            if not found:
                err(f"[one.group.delete] Error getting group [{ref}].")
                return 255
            groups.remove(found[0])
            raft.commit(st)
    return 0


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if args[:1] == ["create"] and len(args) == 2:
        return create(args[1])
    if args[:1] == ["delete"] and args[1:]:
        return delete(args[1].split(","))
    if args[:1] != ["list"]:
        raise Fail("Usage: onegroup COMMAND [args..] [options..]")
    st = state.load()
    me = require_oned(st)
    groups = [group_json(g) for g in _groups(raft.read_db(st, me)["data"])]
    pool: dict[str, Any] = {"GROUP_POOL": {"GROUP": groups}}
    f = fmt(argv)
    if f == "json":
        out(dump_json(pool))
    elif f == "xml":
        out(xml("GROUP_POOL", pool["GROUP_POOL"]))
    else:
        lines = ["  ID NAME"] + [f"{int(g['ID']):4d} {g['NAME']}" for g in groups]
        out("\n".join(lines))
    return 0

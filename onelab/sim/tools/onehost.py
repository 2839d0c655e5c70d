"""onehost: list, show, enable, disable, offline, sync."""

from __future__ import annotations

import os
import time

from .. import catalogue, paths, pool, raft, state
from .common import Fail, dump_json, err, fmt, header, id_list, out, require_oned, xml

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

HOST_NAMES = {
    0: "INIT", 1: "MONITORING_MONITORED", 2: "MONITORED", 3: "ERROR", 4: "DISABLED",
    5: "MONITORING_ERROR", 6: "MONITORING_INIT", 7: "MONITORING_DISABLED", 8: "OFFLINE",
}  # fmt: skip
ACTIONS = {"enable": ("enabled", "enabled"), "disable": ("disabled", "disabled")}
ACTIONS["offline"] = ("offline", "offline")


def euid() -> int:
    return os.geteuid()


def find(data: dict[str, Any], ref: str) -> dict[str, Any]:
    for h in data["hosts"]:
        if ref == str(h["id"]) or ref == h["name"]:
            return dict(h)
    if ref.isdigit():
        raise Fail(f"[one.host.info] Error getting host [{ref}].")
    raise Fail(f"HOST named {ref} not found.")


def list_text(hosts: list[dict[str, Any]]) -> str:
    cols = "%2s %-29.29s %-10.10s %3s %18s %18s %-4.4s"
    lines = [cols % ("ID", "NAME", "CLUSTER", "TVM", "ALLOCATED_CPU", "ALLOCATED_MEM", "STAT")]
    for h in hosts:
        n = int(h["HOST_SHARE"]["RUNNING_VMS"])
        cpu = f"{n * 100} / 400 ({n * 25}%)"
        mem = f"{n}G / 15.5G ({n * 6}%)"
        stat = pool.HOST_SHORT.get(int(h["STATE"]), "err")
        row = cols % (h["ID"], h["NAME"], h["CLUSTER"], str(n), cpu, mem, stat)
        lines.append(row.rstrip())
    return "\n".join(lines)


def show_text(h: dict[str, Any]) -> str:
    attr = "%-22s: %-20s"
    lines = [header(f"HOST {h['ID']} INFORMATION")]
    for label, value in (
        ("ID", h["ID"]),
        ("NAME", h["NAME"]),
        ("CLUSTER", h["CLUSTER"]),
        ("STATE", HOST_NAMES.get(int(h["STATE"]), "ERROR")),
        ("IM_MAD", h["IM_MAD"]),
        ("VM_MAD", h["VM_MAD"]),
    ):
        lines.append((attr % (label, value)).rstrip())
    lines.append("")
    lines.append(header("HOST SHARES"))
    lines.append(f"RUNNING VMS           : {h['HOST_SHARE']['RUNNING_VMS']}")
    lines.append("")
    lines.append(header("MONITORING INFORMATION"))
    for k, v in h["TEMPLATE"].items():
        lines.append(f'{k}="{v}"')
    return "\n".join(lines)


def _reads(argv: list[str], cmd: str, rest: list[str]) -> int:
    st = state.load()
    me = require_oned(st)
    data = raft.read_db(st, me)["data"]
    f = fmt(argv)
    if cmd == "list":
        poolj = pool.host_pool(st, me, data)
        if f == "json":
            out(dump_json(poolj))
        elif f == "xml":
            out(xml("HOST_POOL", poolj["HOST_POOL"]))
        else:
            hosts = poolj["HOST_POOL"].get("HOST", [])
            out(list_text(hosts if isinstance(hosts, list) else [hosts]))
        return 0
    if not rest:
        raise Fail("onehost show: missing argument hostid", 255)
    host = pool.host_json(st, me, data, find(data, rest[0]), time.time())
    if f == "json":
        out(dump_json({"HOST": host}))
    elif f == "xml":
        out(xml("HOST", host))
    else:
        out(show_text(host))
    return 0


def _status(cmd: str, refs: list[str]) -> int:
    status, _word = ACTIONS[cmd]
    rc = 0
    remotes = _remotes_version()
    with state.mutate() as st:
        require_oned(st)
        for ref in refs:
            data, error = raft.write(st, "one.host.status")
            host = None
            if error is None:
                try:
                    host = find(data, ref)
                except Fail as exc:
                    error = exc.message
            if error is not None or host is None:
                err(str(error))
                rc = 255
                continue
            for h in data["hosts"]:
                if h["id"] == host["id"]:
                    pool.set_status(st, remotes, h, status)
            raft.commit(st)
    return rc


def _remotes_version() -> str:
    try:
        return paths.read_text(paths.at("/var/lib/one/remotes/VERSION")).strip()
    except OSError:
        return ""


def _selected(
    st: dict[str, Any], data: dict[str, Any], refs: list[str] | None, force: bool, current: str
) -> list[dict[str, Any]]:
    """The hosts of `refs` (else all) not OFFLINE whose VERSION is older than `current`
    (any, with --force)."""
    now = time.time()
    chosen = data["hosts"] if refs is None else [find(data, ref) for ref in refs]
    return [
        h
        for h in chosen
        if h["status"] != "offline"
        and (
            force
            or catalogue.vkey(pool.reported_version(st, h, now) or "0") < catalogue.vkey(current)
        )
    ]


def _copy(st: dict[str, Any], selected: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    """The copy to each host, with its progress bar: (names failed, ids copied to)."""
    failed: list[str] = []
    ok: list[int] = []
    for i, h in enumerate(selected, 1):
        bar = "=" * int(40 * i / len(selected))
        print(f"[{bar:<40}] {i}/{len(selected)} {h['name']:<40}", end="\r", flush=True)
        if h["name"] in st.get("down", []) or h["name"] not in st.get("probe", {}):
            failed.append(h["name"])
        else:
            ok.append(int(h["id"]))
    return failed, ok


def _record(selected: list[dict[str, Any]], ok: list[int], current: str) -> None:
    """The copied drivers reach the hosts; host.update records their VERSION."""
    with state.mutate() as st2:
        for h in selected:
            if int(h["id"]) in ok:
                pool.copy_drivers(st2, h["name"], current)
        wdata, error = raft.write(st2, "one.host.update")
        if error is None:  # the CLI ignores host.update's result
            for h in wdata["hosts"]:
                if int(h["id"]) in ok:
                    h["version"] = current
            raft.commit(st2)


def _sync(force: bool, refs: list[str] | None) -> int:
    """`onehost sync [range] [--force]`: the hosts of `refs` (else all) not OFFLINE
    whose VERSION is older than the front-end's remotes/VERSION (any, with --force)."""
    if euid() == 0:
        raise Fail("Cannot run 'onehost sync' as root")
    try:
        current = paths.read_text(paths.at("/var/lib/one/remotes/VERSION")).strip()
    except OSError as exc:
        raise Fail(f"Could not read /var/lib/one/remotes/VERSION: {exc}") from exc
    st = state.load()
    me = require_oned(st)
    data = raft.read_db(st, me)["data"]
    selected = _selected(st, data, refs, force, current)
    if not selected:
        out("No hosts are going to be updated.")
        return 0
    for h in selected:
        out(f"* Adding {h['name']} to upgrade")
    failed, ok = _copy(st, selected)
    out("")
    if ok:
        _record(selected, ok, current)
    if failed:
        err("Failed to update the following hosts:")
        for name in failed:
            err(f"* {name}")
        return 255
    out("All hosts updated successfully.")
    return 0


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        raise Fail("Usage: onehost COMMAND [args..] [options..]")
    cmd, rest = args[0], args[1:]
    if cmd in ("list", "show"):
        return _reads(argv, cmd, rest)
    # onehost drops the CLI's --verbose, and its sync copies with rsync by default
    # (--ssh for scp): -v, --verbose and --rsync are unknown options (-v is --vm of create).
    for option in ("-v", "--verbose", "--rsync"):
        if option in argv and cmd in (*ACTIONS, "sync"):
            raise Fail(f"invalid option: {option}", 255)
    if cmd in ACTIONS:
        if not rest:
            raise Fail(f"onehost {cmd}: missing argument range")
        return _status(cmd, id_list(rest[0]))
    if cmd == "sync":
        return _sync("--force" in argv, id_list(rest[0]) if rest else None)
    raise Fail(f"onehost: unknown command {cmd!r}")

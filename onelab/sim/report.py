"""status(): the whole lab as one JSON-able dict (for `status --json`)."""

from __future__ import annotations

import time
from pathlib import Path

from . import nodestate, paths, pool, raft, state
from .vms import vm_lcm

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


def _local(upper: Path | None, name: str) -> Any:
    if upper is None:
        return None
    return paths.read_json(upper / "var/lib/one-lab/local" / f"{name}.json", None)


def _node(st: dict[str, Any], name: str, upper: Path | None) -> dict[str, Any]:
    spec = st["nodes"][name]
    pk = _local(upper, "packages")
    units_raw = _local(upper, "units")
    if isinstance(pk, dict):
        pkgs = pk.get("installed", {})
        units = nodestate.probe(pkgs, units_raw or {})["units"]
    else:
        probe = st.get("probe", {}).get(name, {})
        pkgs = {n: {"version": v} for n, v in probe.get("packages", {}).items()}
        units = probe.get("units", {})
    return {
        "role": spec["role"],
        "os": spec["os"],
        "address": spec["address"],
        "release": nodestate.node_release(pkgs),
        "up": name not in st.get("down", []),
        "units": units,
    }


def _frontend(st: dict[str, Any], name: str, lead: str | None, row: Any) -> dict[str, Any]:
    db = st.get("dbs", {}).get(name, {})
    return {
        "oned": raft.is_running(st, name),
        "leader": name == lead,
        "db": {
            "schema": db.get("schema"),
            "lineage": db.get("lineage"),
            "index": db.get("index"),
        },
        "raft": row,
    }


def _nodes(
    st: dict[str, Any], uppers: dict[str, Path], lead: str | None, now: float
) -> dict[str, Any]:
    rows = {r["NAME"]: r for r in raft.rows(st, now)}
    nodes: dict[str, Any] = {}
    for name in st.get("order", list(st.get("nodes", {}))):
        info = _node(st, name, uppers.get(name))
        if st["nodes"][name]["role"] == "frontend":
            info.update(_frontend(st, name, lead, rows.get(name)))
        nodes[name] = info
    return nodes


def _hosts(st: dict[str, Any], me: str, data: dict[str, Any], now: float) -> list[Any]:
    hosts = []
    for h in data.get("hosts", []):
        code, error = pool.host_state(st, me, h, now)
        hosts.append(
            {
                "id": h["id"],
                "name": h["name"],
                "state": code,
                "short": pool.HOST_SHORT.get(code, "err"),
                "version": h.get("version"),
                "error": error,
            }
        )
    return hosts


def _vms(st: dict[str, Any], data: dict[str, Any], now: float) -> list[Any]:
    return [
        {
            "id": v["id"],
            "name": v["name"],
            "state": v["state"],
            "lcm_state": vm_lcm(st, v, now),
            "host": v["host"],
        }
        for v in data.get("vms", [])
    ]


def status(shared: Path, uppers: dict[str, Path]) -> dict[str, Any]:
    st = state.load(shared)
    rules = state.load(shared, state.RULES)
    now = time.time()
    lead = raft.leader(st)
    nodes = _nodes(st, uppers, lead, now)
    me = lead or next(iter(st.get("dbs", {})), "")
    data = raft.read_db(st, me)["data"] if me else {"zone": {}, "hosts": [], "vms": []}
    zone = data.get("zone", {})
    return {
        "zone": {"id": zone.get("id"), "name": zone.get("name"), "state": zone.get("state")},
        "leader": lead,
        "term": st.get("raft", {}).get("term"),
        "nodes": nodes,
        "hosts": _hosts(st, me, data, now),
        "vms": _vms(st, data, now),
        "faults": rules.get("faults", {}),
        "latencies": rules.get("latencies", {}),
    }

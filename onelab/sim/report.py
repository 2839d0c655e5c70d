"""status(): the whole lab as one JSON-able dict (for `status --json`)."""

from __future__ import annotations

import time
from pathlib import Path

from . import nodestate, paths, pool, raft, state

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


def _local(upper: Path | None, name: str) -> Any:
    if upper is None:
        return None
    return paths.read_json(upper / "var/lib/one-lab/local" / f"{name}.json", None)


def status(shared: Path, uppers: dict[str, Path]) -> dict[str, Any]:
    st = state.load(shared)
    rules = state.load(shared, state.RULES)
    now = time.time()
    rows = {r["NAME"]: r for r in raft.rows(st, now)}
    lead = raft.leader(st)
    nodes: dict[str, Any] = {}
    for name in st.get("order", list(st.get("nodes", {}))):
        spec = st["nodes"][name]
        pk = _local(uppers.get(name), "packages")
        units_raw = _local(uppers.get(name), "units")
        if isinstance(pk, dict):
            pkgs = pk.get("installed", {})
            units = nodestate.probe(pkgs, units_raw or {})["units"]
        else:
            probe = st.get("probe", {}).get(name, {})
            pkgs = {n: {"version": v} for n, v in probe.get("packages", {}).items()}
            units = probe.get("units", {})
        info: dict[str, Any] = {
            "role": spec["role"],
            "os": spec["os"],
            "address": spec["address"],
            "release": nodestate.node_release(pkgs),
            "up": name not in st.get("down", []),
            "units": units,
        }
        if spec["role"] == "frontend":
            db = st.get("dbs", {}).get(name, {})
            info["oned"] = raft.is_running(st, name)
            info["leader"] = name == lead
            info["db"] = {
                "schema": db.get("schema"),
                "lineage": db.get("lineage"),
                "index": db.get("index"),
            }
            info["raft"] = rows.get(name)
        nodes[name] = info
    me = lead or next(iter(st.get("dbs", {})), "")
    data = raft.read_db(st, me)["data"] if me else {"zone": {}, "hosts": [], "vms": []}
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
    vms = [
        {
            "id": v["id"],
            "name": v["name"],
            "state": v["state"],
            "lcm_state": pool.vm_lcm(st, v, now),
            "host": v["host"],
        }
        for v in data.get("vms", [])
    ]
    zone = data.get("zone", {})
    return {
        "zone": {"id": zone.get("id"), "name": zone.get("name"), "state": zone.get("state")},
        "leader": lead,
        "term": st.get("raft", {}).get("term"),
        "nodes": nodes,
        "hosts": hosts,
        "vms": vms,
        "faults": rules.get("faults", {}),
        "latencies": rules.get("latencies", {}),
    }

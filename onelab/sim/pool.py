"""The zone and its hosts as the CLI shows them (JSON dicts of strings), computed on read
(VMs: vms.py)."""

from __future__ import annotations

import time

from . import raft

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

HOST_SHORT = {0: "init", 2: "on", 3: "err", 4: "dsbl", 8: "off"}
INIT_WINDOW = 1.0  # the lab's default monitoring cycle, seconds


# ------------------------------------------------------------------------ zone


def zone_json(st: dict[str, Any], data: dict[str, Any], *, raft_fields: bool) -> dict[str, Any]:
    z = data["zone"]
    if raft_fields:
        servers: list[dict[str, str]] = raft.rows(st)
    else:
        servers = [
            {"ENDPOINT": s["endpoint"], "ID": str(s["id"]), "NAME": s["name"]}
            for s in data["servers"]
        ]
    return {
        "ID": str(z["id"]),
        "NAME": z["name"],
        "STATE": str(z["state"]),
        "TEMPLATE": {"ENDPOINT": z["endpoint"]},
        "SERVER_POOL": {"SERVER": servers} if servers else {},
    }


# ----------------------------------------------------------------------- hosts


def _monitoring_since(st: dict[str, Any], host: dict[str, Any]) -> float | None:
    """Since when monitord has monitored `host` (None: it does not): the leader's oned
    runs (monitord with it) and the host is not OFFLINE; a status change restarts it."""
    if host["status"] == "offline":
        return None
    running = st.get("oned", {})
    lead = raft.leader(st)
    if lead is None and raft.is_solo(st):
        lead = next(iter(running), None)
    if lead is None or lead not in running:
        return None
    return max(float(host.get("since", 0.0)), float(running[lead]["started"]))


def interval(st: dict[str, Any]) -> float:
    return float(st.get("monitoring_interval", INIT_WINDOW))


def cycled(st: dict[str, Any], host: dict[str, Any], now: float) -> bool:
    """A monitoring cycle has run on `host` since its monitoring (re)started."""
    since = _monitoring_since(st, host)
    return since is not None and now - since >= interval(st)


def probe_error(st: dict[str, Any], host: dict[str, Any]) -> str:
    """What the host's failing probes report ("" when they all run). No probe compares
    versions: an old node package or old drivers are no monitoring error."""
    name = host["name"]
    prefix = f"Error monitoring Host {name} ({host['id']}): "
    if name in st.get("down", []) or name not in st.get("probe", {}):
        return prefix + "Could not connect to host"
    if (
        host["hypervisor"] == "kvm"
        and st["probe"][name]["units"].get("libvirtd.service") != "active"
    ):
        return prefix + "Failed to connect to the hypervisor: libvirtd is not running"
    return ""


def host_state(st: dict[str, Any], me: str, host: dict[str, Any], now: float) -> tuple[int, str]:
    if host["status"] == "offline":
        return 8, ""
    if not cycled(st, host, now):
        if host["status"] == "disabled":
            return 4, str(host.get("error", ""))
        # Host::enable: a disabled host with capacity (monitored since it was last
        # OFFLINE) is MONITORED at once, any other INIT; only its next monitoring cycle
        # (INIT_WINDOW later) tells how the node is.
        return (2 if host.get("capacity", True) else 0), str(host.get("error", ""))
    error = probe_error(st, host)
    if host["status"] == "disabled":  # a disabled host's failures only write TEMPLATE/ERROR
        return 4, error
    return (3, error) if error else (2, "")


def reported_version(st: dict[str, Any], host: dict[str, Any], now: float) -> str:
    """The drivers' VERSION the host's probes report: what its node has, once a cycle
    has run since they were copied there; before that the last one reported."""
    copied = st.get("drivers", {}).get(host["name"])
    if copied and cycled(st, host, now) and not probe_error(st, host):
        if now - float(copied[1]) >= interval(st):
            return str(copied[0])
    return str(host.get("version", ""))


def copy_drivers(st: dict[str, Any], name: str, remotes: str) -> None:
    """The front-end's remotes reach the host `name` now (sync, or monitoring's start)."""
    st.setdefault("drivers", {})[name] = [remotes, time.time()]


def set_status(st: dict[str, Any], me_remotes: str, host: dict[str, Any], status: str) -> None:
    """`onehost enable|disable|offline` on the DB's `host` (Host::enable/disable/offline):
    what monitoring reported so far is kept, OFFLINE drops the capacity, and a host
    leaving OFFLINE is monitored again, which copies the front-end's remotes to it."""
    now = time.time()
    if host["status"] == status:
        return
    reached = cycled(st, host, now)
    _state, error = host_state(st, "", host, now)
    host["version"] = reported_version(st, host, now)
    host["error"] = error
    if reached and not error:
        host["stamp"] = int(now) - 1  # the last cycle's result, before this change
    if status == "offline":
        host["capacity"] = False
    elif reached and not error:
        host["capacity"] = True
    if host["status"] == "offline" and host["name"] not in st.get("down", []):
        copy_drivers(st, host["name"], me_remotes)
    host["status"], host["since"] = status, now


def monitoring_starts(st: dict[str, Any], hosts: list[dict[str, Any]], remotes: str) -> None:
    """monitord starts with oned: `start_monitor` copies the remotes to every host that
    is not OFFLINE (disabled ones included) and reachable."""
    for host in hosts:
        if host["status"] != "offline" and host["name"] not in st.get("down", []):
            copy_drivers(st, host["name"], remotes)


def _host_template(
    st: dict[str, Any], host: dict[str, Any], error: str, now: float
) -> dict[str, Any]:
    hv = host["hypervisor"]
    template: dict[str, Any] = {
        "ARCH": "x86_64",
        "CPUSPEED": "2400",
        "HOSTNAME": host["name"],
        "HYPERVISOR": hv,
        "IM_MAD": hv,
        "MODELNAME": "Intel Xeon Processor (Cascadelake)",
        "RESERVED_CPU": "",
        "RESERVED_MEM": "",
        "VERSION": reported_version(st, host, now),
        "VM_MAD": hv,
    }
    if error:
        template["ERROR"] = error
    return template


def _host_monitoring(
    st: dict[str, Any], host: dict[str, Any], running: int, now: float
) -> dict[str, Any]:
    # The last monitoring result: this cycle's for a host monitored fine since its last
    # status change; otherwise the last one before it. monitord stamps an empty record
    # for an OFFLINE host every cycle.
    fresh = cycled(st, host, now) and not probe_error(st, host)
    since = float(host.get("since", 0.0))
    stamp = int(now) if fresh else int(host.get("stamp", max(int(since) - 1, 0)))
    monitoring: dict[str, Any] = {
        "TIMESTAMP": str(stamp),
        "ID": str(host["id"]),
        "CAPACITY": {
            "FREE_CPU": str(400 - running * 100),
            "FREE_MEMORY": str(16303104 - running * 1048576),
            "USED_CPU": str(running * 100),
            "USED_MEMORY": str(running * 1048576),
        },
        "SYSTEM": {"NETRX": "0", "NETTX": "0"},
    }
    if host["status"] == "offline":
        monitoring = {"TIMESTAMP": str(int(now)), "ID": str(host["id"])}
    return monitoring


def _host_share(host: dict[str, Any], running: int) -> dict[str, Any]:
    return {
        "MEM_USAGE": str(running * 1048576),
        "CPU_USAGE": str(running * 100),
        # Host::offline resets the capacity until the next monitoring result
        "TOTAL_MEM": "16303104" if host.get("capacity", True) else "0",
        "TOTAL_CPU": "400" if host.get("capacity", True) else "0",
        "MAX_MEM": "16303104",
        "MAX_CPU": "400",
        "RUNNING_VMS": str(running),
        "VMS_THREAD": "1",
        "DATASTORES": {
            "DISK_USAGE": "0",
            "FREE_DISK": "80000",
            "MAX_DISK": "100000",
            "USED_DISK": "20000",
        },
        "PCI_DEVICES": {},
        "NUMA_NODES": {},
    }


def host_json(
    st: dict[str, Any], me: str, data: dict[str, Any], host: dict[str, Any], now: float
) -> dict[str, Any]:
    state, error = host_state(st, me, host, now)
    vms = [str(v["id"]) for v in data["vms"] if v["host_id"] == host["id"]]
    hv = host["hypervisor"]
    template = _host_template(st, host, error, now)
    monitoring = _host_monitoring(st, host, len(vms), now)
    return {
        "ID": str(host["id"]),
        "NAME": host["name"],
        "STATE": str(state),
        "PREV_STATE": str(state),
        "IM_MAD": hv,
        "VM_MAD": hv,
        "CLUSTER_ID": "0",
        "CLUSTER": "default",
        "HOST_SHARE": _host_share(host, len(vms)),
        "VMS": {"ID": vms[0] if len(vms) == 1 else vms} if vms else {},
        "TEMPLATE": template,
        "MONITORING": monitoring,
    }


def host_pool(st: dict[str, Any], me: str, data: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    # the pool listing carries no monitoring (`onehost show` does)
    hosts = [{**host_json(st, me, data, h, now), "MONITORING": {}} for h in data["hosts"]]
    if not hosts:
        return {"HOST_POOL": {}}
    return {"HOST_POOL": {"HOST": hosts[0] if len(hosts) == 1 else hosts}}

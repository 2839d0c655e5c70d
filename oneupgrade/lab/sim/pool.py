"""OpenNebula objects as the CLI shows them (JSON dicts of strings), computed on read."""

from __future__ import annotations

import time

from . import raft

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

LCM_NAMES = (
    "LCM_INIT PROLOG BOOT RUNNING MIGRATE SAVE_STOP SAVE_SUSPEND SAVE_MIGRATE PROLOG_MIGRATE "
    "PROLOG_RESUME EPILOG_STOP EPILOG SHUTDOWN CANCEL FAILURE CLEANUP_RESUBMIT UNKNOWN HOTPLUG "
    "SHUTDOWN_POWEROFF BOOT_UNKNOWN BOOT_POWEROFF BOOT_SUSPENDED BOOT_STOPPED CLEANUP_DELETE "
    "HOTPLUG_SNAPSHOT HOTPLUG_NIC HOTPLUG_SAVEAS HOTPLUG_SAVEAS_POWEROFF HOTPLUG_SAVEAS_SUSPENDED "
    "SHUTDOWN_UNDEPLOY EPILOG_UNDEPLOY PROLOG_UNDEPLOY BOOT_UNDEPLOY HOTPLUG_PROLOG_POWEROFF "
    "HOTPLUG_EPILOG_POWEROFF BOOT_MIGRATE BOOT_FAILURE BOOT_MIGRATE_FAILURE PROLOG_MIGRATE_FAILURE "
    "PROLOG_FAILURE EPILOG_FAILURE EPILOG_STOP_FAILURE EPILOG_UNDEPLOY_FAILURE "
    "PROLOG_MIGRATE_POWEROFF PROLOG_MIGRATE_POWEROFF_FAILURE PROLOG_MIGRATE_SUSPEND "
    "PROLOG_MIGRATE_SUSPEND_FAILURE BOOT_UNDEPLOY_FAILURE BOOT_STOPPED_FAILURE "
    "PROLOG_RESUME_FAILURE PROLOG_UNDEPLOY_FAILURE DISK_SNAPSHOT_POWEROFF "
    "DISK_SNAPSHOT_REVERT_POWEROFF DISK_SNAPSHOT_DELETE_POWEROFF DISK_SNAPSHOT_SUSPENDED "
    "DISK_SNAPSHOT_REVERT_SUSPENDED DISK_SNAPSHOT_DELETE_SUSPENDED DISK_SNAPSHOT "
    "DISK_SNAPSHOT_REVERT DISK_SNAPSHOT_DELETE PROLOG_MIGRATE_UNKNOWN "
    "PROLOG_MIGRATE_UNKNOWN_FAILURE DISK_RESIZE DISK_RESIZE_POWEROFF DISK_RESIZE_UNDEPLOYED "
    "HOTPLUG_NIC_POWEROFF HOTPLUG_RESIZE HOTPLUG_SAVEAS_UNDEPLOYED HOTPLUG_SAVEAS_STOPPED "
    "BACKUP BACKUP_POWEROFF RESTORE"
).split()
LCM_SHORT = {
    1: "prol", 2: "boot", 3: "runn", 4: "migr", 5: "save", 6: "save", 7: "save", 8: "migr",
    9: "prol", 10: "epil", 11: "epil", 12: "shut", 16: "unkn", 30: "epil", 31: "prol",
    43: "migr", 45: "migr", 60: "migr", 69: "back", 70: "back", 71: "rest",
}  # fmt: skip
HOST_SHORT = {0: "init", 2: "on", 3: "err", 4: "dsbl", 8: "off"}
INIT_WINDOW = 1.0


def lcm_number(name: str) -> int:
    key = name.strip().upper()
    if key.isdigit():
        return int(key)
    if key not in LCM_NAMES:
        raise ValueError(f"unknown LCM state {name!r}")
    return LCM_NAMES.index(key)


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


def host_state(st: dict[str, Any], me: str, host: dict[str, Any], now: float) -> tuple[int, str]:
    if host["status"] == "disabled":
        return 4, ""
    if host["status"] == "offline":
        return 8, ""
    if now - float(host.get("enabled_at", 0.0)) < INIT_WINDOW:
        # Host::enable: a host that was monitored before is MONITORED at once; only its
        # next monitoring cycle (INIT_WINDOW later) tells how the node is.
        return 2, ""
    name = host["name"]
    if name in st.get("down", []) or name not in st.get("probe", {}):
        return 3, f"Error monitoring Host {name} ({host['id']}): Could not connect to host"
    probe = st["probe"][name]
    lead = raft.leader(st) or me
    fe = st.get("probe", {}).get(lead, {}).get("packages", {}).get("opennebula")
    node_pkg = f"opennebula-node-{host['hypervisor']}"
    nv = probe["packages"].get(node_pkg)
    if nv != fe:
        return 3, (
            f"Error monitoring Host {name} ({host['id']}): {node_pkg} {nv} does not match "
            f"the front-end version {fe}"
        )
    if host.get("version") != fe:
        return 3, (
            f"Error monitoring Host {name} ({host['id']}): drivers version "
            f"{host.get('version')} differ from front-end version {fe}, run 'onehost sync'"
        )
    if host["hypervisor"] == "kvm" and probe["units"].get("libvirtd.service") != "active":
        return 3, (
            f"Error monitoring Host {name} ({host['id']}): Failed to connect to the "
            "hypervisor: libvirtd is not running"
        )
    return 2, ""


def host_json(
    st: dict[str, Any], me: str, data: dict[str, Any], host: dict[str, Any], now: float
) -> dict[str, Any]:
    state, error = host_state(st, me, host, now)
    vms = [str(v["id"]) for v in data["vms"] if v["host_id"] == host["id"]]
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
        "VERSION": str(host.get("version", "")),
        "VM_MAD": hv,
    }
    if error:
        template["ERROR"] = error
    # The last monitoring result: this cycle's for a host monitored fine since its
    # enable; otherwise the last one before the enable (none has come since).
    enabled_at = float(host.get("enabled_at", 0.0))
    fresh = state == 2 and now - enabled_at >= INIT_WINDOW
    stamp = int(now) if fresh else max(int(enabled_at) - 1, 0)
    monitoring = {
        "TIMESTAMP": str(stamp),
        "ID": str(host["id"]),
        "CAPACITY": {
            "FREE_CPU": str(400 - len(vms) * 100),
            "FREE_MEMORY": str(16303104 - len(vms) * 1048576),
            "USED_CPU": str(len(vms) * 100),
            "USED_MEMORY": str(len(vms) * 1048576),
        },
        "SYSTEM": {"NETRX": "0", "NETTX": "0"},
    }
    return {
        "ID": str(host["id"]),
        "NAME": host["name"],
        "STATE": str(state),
        "PREV_STATE": str(state),
        "IM_MAD": hv,
        "VM_MAD": hv,
        "CLUSTER_ID": "0",
        "CLUSTER": "default",
        "HOST_SHARE": {
            "MEM_USAGE": str(len(vms) * 1048576),
            "CPU_USAGE": str(len(vms) * 100),
            "TOTAL_MEM": "16303104",
            "TOTAL_CPU": "400",
            "MAX_MEM": "16303104",
            "MAX_CPU": "400",
            "RUNNING_VMS": str(len(vms)),
            "VMS_THREAD": "1",
            "DATASTORES": {"DISK_USAGE": "0", "FREE_DISK": "80000", "MAX_DISK": "100000"},
            "PCI_DEVICES": {},
            "NUMA_NODES": {},
        },
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


# ------------------------------------------------------------------------- VMs


def vm_lcm(st: dict[str, Any], vm: dict[str, Any], now: float) -> int:
    hold = st.get("holds", {}).get(str(vm["id"]))
    if hold and now < float(hold["until"]):
        return int(hold["lcm"])
    return int(vm["lcm"])


def vm_json(st: dict[str, Any], vm: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "ID": str(vm["id"]),
        "UID": "0",
        "GID": "0",
        "UNAME": "oneadmin",
        "GNAME": "oneadmin",
        "NAME": vm["name"],
        "LAST_POLL": str(int(now)),
        "STATE": str(vm["state"]),
        "LCM_STATE": str(vm_lcm(st, vm, now)),
        "RESCHED": "0",
        "STIME": str(vm["stime"]),
        "ETIME": "0",
        "DEPLOY_ID": f"one-{vm['id']}",
        "TEMPLATE": {"CPU": "1", "MEMORY": "1024", "VCPU": "1"},
        "MONITORING": {},
        "USER_TEMPLATE": {},
        # one history record: a dict, as OpenNebula's XML-to-JSON gives a lone element
        "HISTORY_RECORDS": {
            "HISTORY": {
                "OID": str(vm["id"]),
                "SEQ": "0",
                "HOSTNAME": vm["host"],
                "HID": str(vm["host_id"]),
                "CID": "0",
                "DS_ID": "0",
                "VM_MAD": "kvm",
                "TM_MAD": "ssh",
                "ACTION": "0",
            }
        },
    }


def vm_pool(st: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    vms = [vm_json(st, v, now) for v in data["vms"] if int(v["state"]) != 6]
    return {"VM_POOL": {"VM": vms}} if vms else {"VM_POOL": {}}

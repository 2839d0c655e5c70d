"""VMs as the CLI shows them (JSON dicts of strings), computed on read; LCM states."""

from __future__ import annotations

import time

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


def lcm_number(name: str) -> int:
    key = name.strip().upper()
    if key.isdigit():
        return int(key)
    if key not in LCM_NAMES:
        raise ValueError(f"unknown LCM state {name!r}")
    return LCM_NAMES.index(key)


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

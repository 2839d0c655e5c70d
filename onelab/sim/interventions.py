"""The lab's interventions in the cluster state: VMs held in a state, networks and VMs
added, nodes down, elections, stalled followers, busy zones, withheld releases,
missing drivers, fsck errors."""

from __future__ import annotations

import time

from . import raft, state

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from pathlib import Path


def hold_vm(shared: Path, vm_id: int, lcm_state: str, seconds: float) -> None:
    from .vms import lcm_number

    lcm = lcm_number(lcm_state)
    with state.mutate(shared) as st:
        st.setdefault("holds", {})[str(vm_id)] = {"lcm": lcm, "until": time.time() + seconds}


def add_network(shared: Path, name: str, vn_mad: str) -> int:
    """A virtual network in every front-end's database (as if created before)."""
    with state.mutate(shared) as st:
        ids = [int(n["id"]) for db in st["dbs"].values() for n in db["data"].get("vnets", [])]
        new = max(ids, default=-1) + 1
        for db in st["dbs"].values():
            db["data"].setdefault("vnets", []).append({"id": new, "name": name, "vn_mad": vn_mad})
        return new


def add_vm(shared: Path, name: str) -> int:
    """A RUNNING VM, created now, in every front-end's database, on the first VM's host."""
    import time

    with state.mutate(shared) as st:
        ids = [int(v["id"]) for db in st["dbs"].values() for v in db["data"].get("vms", [])]
        new = max(ids, default=-1) + 1
        for db in st["dbs"].values():
            vms = db["data"].setdefault("vms", [])
            like = dict(vms[0]) if vms else {"host_id": 0, "host": "", "state": 3, "lcm": 3}
            like.update({"id": new, "name": name, "stime": int(time.time())})
            vms.append(like)
        return new


def set_node_up(shared: Path, name: str, up: bool) -> None:
    with state.mutate(shared) as st:
        down: list[str] = st.setdefault("down", [])
        if up and name in down:
            down.remove(name)
        elif not up and name not in down:
            down.append(name)
        raft.reconcile(st)


def busy_zone(shared: Path, busy: bool) -> None:
    """The leader commits every BUSY_TICK (a cloud whose monitoring writes all the time)."""
    with state.mutate(shared) as st:
        st.setdefault("raft", {})["busy_since"] = time.time() if busy else 0.0


def set_monitoring_interval(shared: Path, seconds: float) -> None:
    """How long after a host's monitoring (re)starts its first cycle reports."""
    with state.mutate(shared) as st:
        st["monitoring_interval"] = float(seconds)


def withhold_releases(shared: Path, releases: list[str]) -> None:
    """Releases no repository of the lab serves from now on (a mirror behind, say)."""
    with state.mutate(shared) as st:
        st["withheld_releases"] = list(releases)


def missing_driver(shared: Path, name: str, executable: str) -> None:
    """A driver executable oned on node `name` will not find at its next start."""
    with state.mutate(shared) as st:
        st.setdefault("missing_drivers", {}).setdefault(name, []).append(executable)


def clear_missing_drivers(shared: Path) -> None:
    with state.mutate(shared) as st:
        st.pop("missing_drivers", None)


def stall_follower(shared: Path, name: str, stalled: bool = True) -> None:
    """A follower that answers but no longer applies the leader's log."""
    with state.mutate(shared) as st:
        names: list[str] = st.setdefault("raft", {}).setdefault("stalled", [])
        if stalled and name not in names:
            names.append(name)
        elif not stalled and name in names:
            names.remove(name)


def fsck_errors(shared: Path, name: str, errors: list[str]) -> None:
    """Inconsistencies `onedb fsck` on node `name` will find (and repair) next time."""
    with state.mutate(shared) as st:
        st.setdefault("fsck_errors", {})[name] = list(errors)


def force_election(shared: Path, leader: str | None = None) -> None:
    with state.mutate(shared) as st:
        raft.force_election(st, leader)

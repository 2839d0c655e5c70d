"""Starting and stopping units: each under its lock, with what it wants, requires and
conflicts with, one transaction per call (transaction.py: parallel jobs in After=/Before=
order); and what is PartOf/BindsTo a stopped unit."""

from __future__ import annotations

import os
import time

from . import transaction
from .console import err
from .processes import journal, run_lines, stop_processes
from .readiness import start_main
from .state import effective, load_state, lock, save_state
from .units import Unit, condition, environment, find, unit_files

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from typing import Any

SEE = '\nSee "systemctl status {u}" and "journalctl -xeu {u}" for details.'
WHY = {
    "failed": "the control process exited with error code",
    "timeout": "a timeout was exceeded",
    "resources": "of unavailable resources or another system error",
}


def start_one(u: Unit) -> str:
    """Start one unit under its lock: '' when done, else why it failed."""
    fd = lock(u.name)
    try:
        if effective(u.name) == "active":
            return ""
        if not condition(u, "Assert"):
            os.close(journal(u.name, f"Assertion failed for {u.description}."))
            return "assert"
        if not condition(u, "Condition"):
            os.close(journal(u.name, f"{u.description} was skipped because of a condition."))
            return ""
        if u.name.endswith((".timer", ".target")):
            sub = "waiting" if u.name.endswith(".timer") else "active"
            save_state(u.name, state="active", sub=sub)
            return ""
        return start_service(u)
    finally:
        os.close(fd)


def start_service(u: Unit) -> str:
    log = journal(u.name, f"Starting {u.description}...")
    timeout = u.timeout("TimeoutStartSec")
    deadline = time.monotonic() + timeout if timeout else None
    save_state(u.name, state="activating")
    env = environment(u)
    st: dict[str, Any] = {}
    why = "resources" if env is None else run_lines(u, "ExecStartPre", env or {}, log, deadline)
    if not why and env is not None:
        if u.type == "oneshot":
            why = run_lines(u, "ExecStart", env, log, deadline)
        elif not u.keys.get("ExecStart"):
            why = "resources"
        else:
            why, st = start_main(u, env, log, deadline)
        if not why:
            why = run_lines(u, "ExecStartPost", env, log, deadline)
    if why:
        stop_processes(u, st)
        run_lines(u, "ExecStopPost", env or {}, log, None)
        os.write(log, f"{u.name}: Failed with result '{why}'.\n".encode())
        os.close(journal(u.name, f"Failed to start {u.description}."))
        save_state(u.name, state="failed", result=why, sid=st.get("sid", 0))
    elif u.type == "oneshot":
        if u.flag("RemainAfterExit"):
            save_state(u.name, state="active", sub="exited")
        else:
            save_state(u.name, state="inactive")
        os.close(journal(u.name, f"Finished {u.description}."))
    else:
        save_state(u.name, state="active", sub="running", **st)
        os.close(journal(u.name, f"Started {u.description}."))
    os.close(log)
    return why


def stop_one(u: Unit) -> None:
    fd = lock(u.name)
    try:
        st = load_state(u.name)
        now = effective(u.name, st)
        if now == "inactive" or st.get("state") == "failed":
            return
        log = journal(u.name, f"Stopping {u.description}...")
        save_state(u.name, **(st | {"state": "deactivating"}))
        env = environment(u) or {}
        env["MAINPID"] = str(st.get("pid", ""))
        timeout = u.timeout("TimeoutStopSec")
        run_lines(u, "ExecStop", env, log, time.monotonic() + timeout if timeout else None)
        stop_processes(u, st)
        run_lines(u, "ExecStopPost", env, log, None)
        if u.get("PIDFile"):
            try:
                os.unlink(u.get("PIDFile"))
            except OSError:
                pass
        save_state(u.name, state="failed" if now == "failed" else "inactive")
        os.close(journal(u.name, f"Stopped {u.description}."))
        os.close(log)
    finally:
        os.close(fd)


def plan(u: Unit) -> dict[str, Unit] | str:
    """u and what it wants/requires, transitively; or a missing required unit."""
    units, todo = {u.name: u}, [u]
    while todo:
        for key in ("Requires", "Wants"):
            for name in todo[0].words(key):
                if name in units:
                    continue
                dep = find(name)
                if dep is None or dep.masked:
                    if key == "Requires":
                        return name
                    continue
                units[name] = dep
                todo.append(dep)
        todo.pop(0)
    return units


def _start_job(x: Unit) -> str:
    for c in x.words("Conflicts"):
        if (cu := find(c)) is not None and effective(c) != "inactive":
            stop_one(cu)
    return start_one(x)


def start(names: list[str]) -> int:
    """Start names and what they want or require, as one transaction."""
    rc = 0
    units: dict[str, Unit] = {}
    asked: list[tuple[str, Unit]] = []
    for name in names:
        u = find(name)
        if u is None:
            err(f"Failed to start {name}: Unit {name} not found.")
            rc = 5
            continue
        if u.masked:
            err(f"Failed to start {name}: Unit {name} is masked.")
            rc = rc or 1
            continue
        wanted = plan(u)
        if isinstance(wanted, str):
            err(f"Failed to start {name}: Unit {wanted} not found.")
            rc = 5
            continue
        units.update(wanted)
        asked.append((name, u))
    requires = {n: set(x.words("Requires")) for n, x in units.items()}
    results = transaction.run(units, _start_job, transaction.ordering(units), requires)
    for name, u in asked:
        why = results.get(u.name, "")
        if not why:
            continue
        rc = rc or 1
        if why == "assert":
            err(f"Assertion failed on job for {name}.")
        elif why == "dependency":
            err(f"A dependency job for {name} failed. See 'journalctl -xe' for details.")
        else:
            err(f"Job for {name} failed because {WHY[why]}." + SEE.format(u=name))
    return rc


def _stop_job(u: Unit) -> str:
    stop_one(u)
    return ""


def stop(names: list[str], glob: list[str]) -> tuple[int, list[str]]:
    """Stop names (and what is PartOf/BindsTo them) as one transaction: exit code, the
    units stopped."""
    rc = 0
    chosen: dict[str, Unit] = {}
    units = {n: u for n in unit_files() if (u := find(n))}
    for name in names:
        u = units.get(name) or find(name)
        if u is None:
            if name not in glob:
                err(f"Failed to stop {name}: Unit {name} not loaded.")
                rc = 5
            continue
        bound = [
            v
            for v in units.values()
            if name in v.words("PartOf") + v.words("BindsTo") and effective(v.name) == "active"
        ]
        for v in [*bound, u]:
            chosen.setdefault(v.name, v)
    transaction.run(chosen, _stop_job, transaction.reverse(transaction.ordering(chosen)))
    return rc, list(chosen)

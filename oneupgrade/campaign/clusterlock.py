"""One run at a time across controllers: a lock that lives on the cluster's front-ends.

The local `run.lock` (runlock.py) stops a second run from the same report directory; two
operators on two workstations have two. This lock is on the front-ends themselves.

The choice: a lock held by a live SSH session, not a lease. On each front-end the run
starts `flock -n LOCK_DIR/lock` around a `cat` that reads the channel's standard input
and keeps that channel open. The kernel holds the lock exactly as long as that session
lives: the run releases it by closing the input; when the run's process dies (SIGKILL
included) or its connection drops, sshd ends the session, `cat` sees the end of its
input and the lock goes with it. Nothing to renew, nothing to expire, no clock to trust,
and no audit record every few seconds; a lease would need a renewing thread and a
timeout guess, and would stay stale for that long after a crash. What a session cannot
see is a controller that hangs with its connection up (a laptop suspended mid-run):
`--break-lock RUN` then ends the holder's `cat`, by the process id the holder wrote
beside the lock, after showing who held it.

Every front-end that answers is locked, leader and followers alike, so that wherever
leadership moves the lock is there; a majority of the front-ends at least, or the run is
refused (two runs can never both hold a majority). It is taken before the first step that
may change the cluster: a dry run, or preflight alone, never takes it, so read-only runs
are never blocked and never block.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oneupgrade.errors import RunbookError
from oneupgrade.result import CommandResult
from oneupgrade.transport.channel import Held

if TYPE_CHECKING:
    from oneupgrade.cluster import Cluster
    from oneupgrade.transport.node import Node

LOCK_DIR = "/var/lib/one/.oneupgrade"  # root-only (0700), beside OpenNebula's state
READY = "oneupgrade-cluster-lock-held"
REFUSED = 75  # flock's exit when another holds the lock (-E)
_PID = "@PID@"


class ClusterLocked(RunbookError):
    """Another run holds the cluster's lock, or too few front-ends could be locked."""


def holder_info(run_id: str, kind: str) -> dict[str, Any]:
    """Who holds the lock: written beside it by the holding session itself."""
    return {
        "run": run_id,
        "kind": kind,
        "operator": getpass.getuser(),
        "controller": socket.gethostname(),
        "controller_pid": os.getpid(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pid": _PID,  # the holding `cat` on the node, filled in there
    }


def lock_command(info: dict[str, Any]) -> str:
    """flock around a shell that writes the holder, says READY and becomes `cat`."""
    inner = (
        f'printf "%s\\n" "$1" | sed "s/\\"{_PID}\\"/$$/" > {LOCK_DIR}/holder.tmp'
        f" && mv -f {LOCK_DIR}/holder.tmp {LOCK_DIR}/holder.json"
        f" && echo {READY} && exec cat >/dev/null"
    )
    return (
        f"umask 077 && mkdir -p {LOCK_DIR} && chmod 700 {LOCK_DIR} && "
        f"exec flock -n -E {REFUSED} {LOCK_DIR}/lock sh -c {shlex.quote(inner)} sh "
        + shlex.quote(json.dumps(info, sort_keys=True))
    )


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "a run that left no description"
    return (
        f"run {holder.get('run')} ({holder.get('kind', 'upgrade')}) of "
        f"{holder.get('operator')}@{holder.get('controller')} "
        f"(process {holder.get('controller_pid')}), since {holder.get('since')}"
    )


def read_holder(node: Node) -> dict[str, Any] | None:
    found = node.run(f"cat {LOCK_DIR}/holder.json 2>/dev/null", check=False)
    try:
        data = json.loads(found.stdout) if found.ok and found.stdout.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def is_held(node: Node) -> bool:
    """Is the lock held on the node (by anyone)? A try that lets go at once."""
    probe = node.run(
        f"test -e {LOCK_DIR}/lock || exit 0; flock -n -E {REFUSED} {LOCK_DIR}/lock true",
        check=False,
    )
    return probe.exit_status == REFUSED


@dataclass
class ClusterLock:
    cluster: Cluster
    run_id: str
    kind: str = "upgrade"
    holds: dict[str, Held] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return bool(self.holds)

    def acquire(self) -> list[str]:
        """Lock every answering front-end that is not locked by this run yet; returns
        the front-ends locked now. Refused (nothing kept) when another run holds any,
        or when this run would hold fewer than a majority."""
        info = holder_info(self.run_id, self.kind)
        refused: dict[str, dict[str, Any] | None] = {}
        taken: list[str] = []
        for node in self.cluster.frontends:
            if node.name in self.holds and self.holds[node.name].alive:
                continue
            self.holds.pop(node.name, None)
            try:
                got = node.hold(lock_command(info), READY, timeout=30)
            except RunbookError:
                continue  # unreachable: counted against the majority below
            if isinstance(got, Held):
                self.holds[node.name] = got
                taken.append(node.name)
            elif _refused(got):
                refused[node.name] = read_holder(node)
        if refused:
            self.release()
            raise ClusterLocked(_refusal(refused))
        total = len(self.cluster.frontends)
        if len(self.holds) * 2 <= total:
            self.release()
            raise ClusterLocked(
                f"the cluster lock could be taken on only {len(self.holds)} of {total} "
                "front-ends (a majority is needed, so that no other run can hold one): "
                "bring the others back, then run again"
            )
        return taken

    def release(self) -> None:
        for held in self.holds.values():
            held.release()
        self.holds.clear()

    def break_lock(self, run_id: str) -> list[str]:
        """End the holding session of run `run_id` on every front-end where it still
        holds the lock (its `cat`, by the pid it wrote); returns what was done, for the
        operator to see. Refused when the lock is held by another run."""
        done = []
        for node in self.cluster.frontends:
            try:
                if not is_held(node):
                    continue
                holder = read_holder(node)
            except RunbookError:
                continue
            if not holder or holder.get("run") != run_id:
                raise ClusterLocked(
                    f"{node}: the cluster lock is held by {describe(holder)}, not by run "
                    f"{run_id}: --break-lock takes over only the run it names"
                )
            pid = int(holder.get("pid") or 0)
            # the pid must still be the holder's `cat` (never kill a reused pid)
            node.run(f"grep -qx cat /proc/{pid}/comm && kill {pid}", check=True, mutating=False)
            done.append(f"{node}: ended the session of {describe(holder)} (its process {pid})")
        return done


def _refused(result: CommandResult) -> bool:
    return result.exit_status == REFUSED


def _refusal(refused: dict[str, dict[str, Any] | None]) -> str:
    holders = {describe(h) for h in refused.values()}
    nodes = ", ".join(sorted(refused))
    runs = sorted({str(h.get("run")) for h in refused.values() if h})
    hint = f"--break-lock {runs[0]}" if len(runs) == 1 else "--break-lock RUN (the run it names)"
    return (
        f"another run holds the cluster lock on {nodes}: {'; '.join(sorted(holders))}. "
        "Nothing was changed by this run. Wait for that run to end; if its controller is "
        f"gone but its connection lingers (a suspended laptop), run again with {hint} to "
        "end its session and take over"
    )

"""Before a package transaction on a node: what an interrupted run left there is finished
first.

Package transactions run detached (transport/detach.py), so a controller that died in
step 5 leaves its apt-get or dnf running to its end on the node. The next run waits for
such a job, says how the earlier run's command ended, and then repairs a dpkg transaction
that was cut short anyway (the node rebooted, dpkg killed by hand): `dpkg --audit`
lists the packages left unpacked or half-configured, and `dpkg --configure -a` (keeping
modified configuration files, as the upgrade does) finishes them, so that the upgrade's
own `apt-get install` can go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import system
from oneupgrade.transport import detach
from oneupgrade.transport.node import Node

WAIT = 1800.0  # seconds an earlier run's package job is waited for
PAUSE = 1.0
REPAIR = (
    f"{system.APT_ENV} dpkg --configure -a --force-confold --force-confdef"
)  # fmt: skip


def wait_for_earlier_jobs(
    node: Node, timeout: float = WAIT, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """Wait for the jobs an earlier run left running on `node`; what each ended with."""
    deadline = time.monotonic() + timeout
    waited: set[str] = set()
    while True:
        running, finished = detach.parse_list(node.run(detach.listing(), check=False).stdout)
        if not running:
            break
        waited.update(command for _, command in running)
        if time.monotonic() >= deadline:
            raise PreconditionFailed(
                f"{node}: a command of an earlier run still runs after {timeout:g} s: "
                f"{running[0][1]} (wait for it, or end it, then rerun)"
            )
        sleep(PAUSE)
    notes = [f"waited for an earlier run's `{c}`" for c in sorted(waited)]
    for job, status, command in finished:
        node.run(f"rm -rf {detach.JOBS}/{job}", mutating=True)
        ended = "its runner lost" if status == "lost" else f"exit {status}"
        notes.append(f"an earlier run's `{command}` ended on the node ({ended})")
    return notes


def repair_interrupted(node: Node, plat: system.Platform) -> list[str]:
    """`dpkg --configure -a` when dpkg reports an interrupted transaction (deb only)."""
    if plat.family != "deb":
        return []
    audit = node.run("dpkg --audit", check=False).stdout.strip()
    if not audit:
        return []
    node.run(REPAIR, mutating=True, timeout=WAIT, detach=True)
    return ["repaired an interrupted dpkg transaction (dpkg --configure -a)"]


def settle(node: Node, plat: system.Platform) -> list[str]:
    """An earlier run's package jobs waited for, then dpkg repaired: what was done."""
    return [*wait_for_earlier_jobs(node), *repair_interrupted(node, plat)]

"""The documented procedure as an operator scripts it: plain OpenSSH, one `ssh` per command.

What `make bench` compares the runbook with, on an identical fresh lab with the same
latencies: the HA guide's steps 2 to 9 with the single front-end guide's steps 4-9
(the commands of tests/lab/test_by_hand.py) and steps 11-13 for the hypervisors.
`serial`: one command after another, as typed. `parallel`: the followers at once and
the hypervisors `forks` at a time, as a shell script with `&` and `wait` would. No
code of the runbook is used; nothing is checked beyond each command's exit status
and the zone's health, which the downtime ends at.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from onelab import Lab

__all__ = ["ByHand", "run_by_hand"]

REPO = "/etc/apt/sources.list.d/opennebula.list"
APT = "DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold"
PACKAGES = (
    "opennebula opennebula-gate opennebula-flow opennebula-fireedge opennebula-migration "
    "python3-pyone"
)


@dataclass
class ByHand:
    """What a by-hand run cost."""

    mode: str  # serial | parallel
    wall: float = 0.0
    downtime: float = 0.0
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Shell:
    """`ssh root@node COMMAND`, a new OpenSSH connection each time (no multiplexing)."""

    def __init__(self, lab: Lab, cost: ByHand) -> None:
        self.lab, self.cost = lab, cost
        self.base = [
            "ssh", "-F", "/dev/null", "-i", str(lab.identity),
            "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-p", str(lab.port),
        ]  # fmt: skip

    def __call__(self, node: str, command: str) -> str:
        with self.cost._lock:
            self.cost.connections += 1
        done = subprocess.run(
            [*self.base, f"root@{self.lab.address(node)}", command],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{node}$ {command}: exit {done.returncode}: {done.stderr[-500:]}")
        return done.stdout


def _each(nodes: Iterable[str], work: Callable[[str], None], workers: int) -> None:
    nodes = list(nodes)
    if workers <= 1:
        for node in nodes:
            work(node)
        return
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, n) for n in nodes]:
            future.result()


def _upgrade_frontend(sh: Shell, node: str, vip: str) -> None:
    """Steps 4-9 of "Upgrading Single Front-end", as typed."""
    sh(node, "cp -ra /etc/one /etc/one.$(date +'%Y-%m-%d')")
    sh(node, "cp -ra /var/lib/one/remotes/etc /var/lib/one/remotes/etc.$(date +'%Y-%m-%d')")
    sh(node, "onedb backup /var/lib/one/pre-upgrade.sql")
    sh(node, f"sed -i 's#/repo/6.10/#/repo/7.0/#' {REPO}")
    sh(node, f"apt-get update -q && {APT} --only-upgrade {PACKAGES}")
    sh(node, f"{APT} opennebula-migration")
    sh(node, "onecfg upgrade || true")
    sh(node, f"sed -i 's/MONITOR_ADDRESS *= *\"auto\"/MONITOR_ADDRESS = \"{vip}\"/' "
             "/etc/one/monitord.conf")  # fmt: skip
    sh(node, "onedb upgrade -v")
    time.sleep(1)  # onedb's default backup file is named to the second
    sh(node, "onedb fsck")


def _healthy(sh: Shell, leader: str, followers: list[str]) -> bool:
    servers: list[dict[str, Any]] = json.loads(sh(leader, "onezone show 0 -j"))["ZONE"][
        "SERVER_POOL"
    ]["SERVER"]
    leaders = [s for s in servers if s["STATE"] == "3"]
    return len(leaders) == 1 and all(
        s["STATE"] in ("2", "3") and s["COMMIT"] == leaders[0]["COMMIT"] for s in servers
    )


def run_by_hand(lab: Lab, mode: str, forks: int) -> ByHand:
    """The whole procedure on `lab` (at 6.10, hosts enabled); its cost."""
    cost = ByHand(mode)
    sh = Shell(lab, cost)
    workers = forks if mode == "parallel" else 1
    names = [s.name for s in lab.specs]
    fronts = [s.name for s in lab.specs if s.frontend]
    leader, followers = fronts[0], fronts[1:]
    hypervisors = [n for n in names if n not in fronts]
    vip = str(lab.info["vip"])
    started = time.monotonic()
    pool = json.loads(sh(leader, "onehost list -j"))["HOST_POOL"].get("HOST", [])
    ids = ",".join(h["ID"] for h in (pool if isinstance(pool, list) else [pool]))
    if ids:  # step 2
        sh(leader, f"onehost disable {ids}")
    sh(leader, "onezone disable 0")
    down = time.monotonic()
    _upgrade_control_plane(lab, sh, vip, leader, followers, workers)  # steps 3 to 8
    cost.downtime = time.monotonic() - down
    sh(leader, "onezone enable 0")
    _each(hypervisors, lambda n: _upgrade_hypervisor(sh, n), workers)  # step 9
    sh(leader, "runuser -u oneadmin -- onehost sync --force")
    if ids:
        sh(leader, f"onehost enable {ids}")
    cost.wall = time.monotonic() - started
    return cost


def _upgrade_control_plane(
    lab: Lab, sh: Shell, vip: str, leader: str, followers: list[str], workers: int
) -> None:
    """Steps 3 to 8: the front-ends stopped, upgraded, replicated, started and in sync."""
    for node in (*followers, leader):  # step 3
        sh(node, "systemctl stop 'opennebula*' nginx")
    _upgrade_frontend(sh, leader, vip)  # step 4
    sh(leader, "onedb backup /var/lib/one/replicate.sql")
    _each(followers, lambda n: _upgrade_frontend(sh, n, vip), len(followers) if workers > 1 else 1)
    _each(  # step 6
        followers, lambda n: _replicate(lab, sh, leader, n), len(followers) if workers > 1 else 1
    )
    for node in (leader, *followers):  # step 7
        sh(node, "systemctl daemon-reload")
        sh(node, "systemctl start opennebula opennebula-gate opennebula-flow "
                 "opennebula-fireedge nginx")  # fmt: skip
    while not _healthy(sh, leader, followers):  # step 8
        time.sleep(0.5)


def _replicate(lab: Lab, sh: Shell, leader: str, node: str) -> None:  # step 6
    line = sh(node, "grep -E '^ *SERVER_ID' /etc/one/oned.conf")
    server_id = line.split("=")[1].strip().rstrip(",")
    sh(node, f"scp root@{lab.address(leader)}:/var/lib/one/replicate.sql /tmp/")
    sh(node, "onedb restore -f /tmp/replicate.sql")
    sh(leader, f"rsync -r -c /etc/one root@{lab.address(node)}:/etc")
    sh(
        leader,
        f"rsync -r -c /var/lib/one/remotes/etc root@{lab.address(node)}:/var/lib/one/remotes",
    )
    sh(node, f"sed -i 's/^\\( *SERVER_ID *= *\\)[-0-9]*/\\1{server_id}/' /etc/one/oned.conf")
    sh(node, "chown -R oneadmin:oneadmin /etc/one /var/lib/one/remotes/etc")


def _upgrade_hypervisor(sh: Shell, node: str) -> None:  # step 9: single front-end steps 11-13
    sh(node, f"sed -i 's#/repo/6.10/#/repo/7.0/#' {REPO}")
    sh(node, f"apt-get update -q && {APT} --only-upgrade opennebula-node-kvm")
    sh(node, "systemctl restart libvirtd")

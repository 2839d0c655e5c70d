"""A real OpenNebula HA zone on a started lab, made as OpenNebula's guides make one.

Over the lab's SSH as root on each node: `apt-get install` of the packages from the lab's
repository; each front-end's configuration bound to its own address (oned, monitord, the
hook manager, the scheduler, OneGate, OneFlow, the CLI's endpoint); the dummy drivers
enabled. Then "Raft: Adding More Servers" of the HA guide: the first front-end alone,
`onezone server-add`, SERVER_ID, a restart; its database backed up and restored on each
other front-end with the leader's `.one` and SSH key; `server-add` of each; their start.
Then the hypervisors as hosts (dummy IM and VMM, monitored over SSH as oneadmin) and VMs.
"""

from __future__ import annotations

import shlex
import time
from functools import partial
from typing import Any

from ..errors import LabError
from ..sim.spec import ClusterSpec, NodeSpec
from . import mariadb
from .frontend import ENDPOINT, configure_script, set_server_id
from .hosts import add_hosts, add_vms
from .repository import repo_dir
from .shell import UP_TIMEOUT, Runner, each, sh, wait
from .zonestate import is_state, server_states, show_zone

INSTALL_TIMEOUT = 600.0
# What an operator's front-end runs (the units OpenNebula's install guide starts).
FRONTEND_PACKAGES = (
    "opennebula", "opennebula-gate", "opennebula-flow", "opennebula-fireedge",
    "opennebula-guacd", "opennebula-sunstone", "opennebula-provision", "opennebula-migration",
)  # fmt: skip
FRONTEND_UNITS = (
    "opennebula", "opennebula-gate", "opennebula-flow", "opennebula-fireedge",
    "opennebula-sunstone",
)  # fmt: skip


def offered(series: str) -> set[str]:
    """The packages the lab's repository of a series offers."""
    arch_dirs = list((repo_dir(series) / "dists/stable/opennebula").glob("binary-*"))
    names: set[str] = set()
    for d in arch_dirs:
        for line in (d / "Packages").read_text().splitlines():
            if line.startswith("Package: "):
                names.add(line.split(": ", 1)[1])
    return names


def _apt(packages: list[str]) -> str:
    return (
        "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
        "-o Dpkg::Options::=--force-confold " + " ".join(packages)
    )


def install(lab: Runner, spec: ClusterSpec, series: str) -> None:
    """The front-end and node packages, on every node at once."""
    have = offered(series)
    fe = [p for p in FRONTEND_PACKAGES if p in have]

    def one(node: NodeSpec) -> None:
        packages = fe if node.frontend else ["opennebula-node-kvm"]
        sh(lab, node.name, _apt(packages), INSTALL_TIMEOUT)

    each(spec.nodes, one)


def start_units(lab: Runner, node: str, units: list[str]) -> None:
    sh(lab, node, f"systemctl enable -q {' '.join(units)} && systemctl start {' '.join(units)}",
       UP_TIMEOUT)  # fmt: skip


def bootstrap(
    lab: Runner, spec: ClusterSpec, series: str, db: str | None = "sqlite"
) -> dict[str, Any]:
    """Packages, configuration, the zone, hosts and VMs; returns what was made. `db`
    "mysql": a MariaDB server on every front-end, oned.conf's DB section on it."""
    started = time.monotonic()
    install(lab, spec, series)
    timings = {"install": time.monotonic() - started}
    fes = spec.frontends
    secret = ""
    if db == "mysql":
        secret = _databases(lab, fes)
        timings["database"] = time.monotonic() - started - timings["install"]
    for fe in fes:
        db_section = mariadb.oned_db_section(secret, fe) if db == "mysql" else None
        sh(lab, fe.name, configure_script(fe, db_section))
    units = [u for u in FRONTEND_UNITS if u in offered(series)]
    _form_zone(lab, fes, units)
    timings["zone"] = time.monotonic() - started - timings["install"]
    add_hosts(lab, spec, fes[0].name)
    add_vms(lab, spec, fes[0].name)
    each(fes, lambda fe: _check_active(lab, fe.name, units))
    timings["all"] = time.monotonic() - started
    return timings


def _databases(lab: Runner, fes: list[NodeSpec]) -> str:
    """A MariaDB server on every front-end; returns the zone's database password."""
    secret = mariadb.password()  # one for the zone: /etc/one is the same on every server

    def serve(fe: NodeSpec) -> None:
        sh(lab, fe.name, mariadb.setup_script(fe, secret), UP_TIMEOUT)

    each(fes, serve)
    return secret


def _form_zone(lab: Runner, fes: list[NodeSpec], units: list[str]) -> None:
    """The first front-end's services started, then (HA) the others as its followers."""
    first = fes[0]
    ha = first.server_id >= 0
    if ha:
        # "Raft: Adding More Servers": the first server alone, server-add, SERVER_ID, restart.
        start_units(lab, first.name, ["opennebula"])
        wait("oned on the first front-end", lambda: bool(show_zone(lab, first.name)))
        url = ENDPOINT.format(address=first.address)
        sh(lab, first.name, f"onezone server-add 0 --name {first.name} --rpc {url}")
        sh(lab, first.name, "systemctl stop opennebula", UP_TIMEOUT)
        set_server_id(lab, first.name, first.server_id)
    start_units(lab, first.name, units)
    wait("the first front-end", lambda: bool(show_zone(lab, first.name)))
    if ha:
        wait("a leader", lambda: server_states(lab, first.name).get(first.name) == "3")
        _add_followers(lab, first, fes[1:], units)


def _add_followers(lab: Runner, leader: NodeSpec, others: list[NodeSpec], units: list[str]) -> None:
    backup = "/var/lib/one/backups/lab-seed.sql"
    sh(lab, leader.name, f"mkdir -p /var/lib/one/backups && onedb backup -f {backup}", UP_TIMEOUT)

    def copy(fe: NodeSpec) -> None:
        # The leader's database, one_auth, keys and SSH identity ("Adding More Servers");
        # the endpoint stays the node's own (onedb refuses while an oned answers there).
        url = shlex.quote(ENDPOINT.format(address=fe.address))
        sh(lab, fe.name,
           f"set -e; mkdir -p /var/lib/one/backups; ssh {leader.name} cat {backup} > {backup}; "
           f"ssh {leader.name} tar -C /var/lib/one -cf - .one .ssh | tar -C /var/lib/one -xpf -; "
           f"echo {url} > /var/lib/one/.one/one_endpoint; "
           "cp /var/lib/one/.one/one_auth /root/.one/one_auth; "
           f"onedb restore -f {backup} >/dev/null; chown -R oneadmin:oneadmin /var/lib/one",
           UP_TIMEOUT)  # fmt: skip
        set_server_id(lab, fe.name, fe.server_id)

    each(others, copy)
    # One at a time, as the guide says: a server added but not started leaves the zone
    # without a majority, so the next server-add could not commit.
    for fe in others:
        url = ENDPOINT.format(address=fe.address)
        sh(lab, leader.name, f"onezone server-add 0 --name {fe.name} --rpc {url}")
        start_units(lab, fe.name, units)
        wait(f"{fe.name} a follower", partial(is_state, lab, leader.name, fe.name, "2"))


def _check_active(lab: Runner, node: str, units: list[str]) -> None:
    """Every unit the lab started is still running (a server that died at start shows)."""
    rc, out, _ = lab.run(node, f"systemctl is-active {' '.join(units)}")
    if rc != 0:
        dead = [u for u, state in zip(units, out.split(), strict=False) if state != "active"]
        logs = sh(lab, node, " ; ".join(f"tail -n 3 /var/log/one-lab/units/{u}.service.log"
                                          for u in dead))  # fmt: skip
        raise LabError(f"{node}: {', '.join(dead)} not running: {' | '.join(logs.splitlines())}")

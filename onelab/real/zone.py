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

import json
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from ..errors import LabError
from ..sim.spec import ClusterSpec, NodeSpec
from . import mariadb
from .packaging import repo_dir

ENDPOINT = "http://{address}:2633/RPC2"
INSTALL_TIMEOUT = 600.0
UP_TIMEOUT = 180.0
# What an operator's front-end runs (the units OpenNebula's install guide starts).
FRONTEND_PACKAGES = (
    "opennebula", "opennebula-gate", "opennebula-flow", "opennebula-fireedge",
    "opennebula-guacd", "opennebula-sunstone", "opennebula-provision", "opennebula-migration",
)  # fmt: skip
FRONTEND_UNITS = (
    "opennebula", "opennebula-gate", "opennebula-flow", "opennebula-fireedge",
    "opennebula-sunstone",
)  # fmt: skip
VM_TEMPLATE = 'NAME = "lab-vm"\nCPU = 0.1\nVCPU = 1\nMEMORY = 64\n'


class Runner(Protocol):
    def run(self, name: str, command: str, timeout: float = 30) -> tuple[int, str, str]: ...


def sh(lab: Runner, node: str, command: str, timeout: float = 60.0) -> str:
    """Run a command as root on a node; its stdout, or LabError with what it printed."""
    rc, out, err = lab.run(node, command, timeout=timeout)
    if rc != 0:
        text = " | ".join((err or out).strip().splitlines()[-4:])
        raise LabError(f"{node}: `{command[:80]}` exited {rc}: {text}")
    return out


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

    _each(spec.nodes, one)


def _each(nodes: list[NodeSpec], work: Callable[[NodeSpec], None]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(work, n) for n in nodes]:
            future.result()


def configure_script(node: NodeSpec, db_section: str | None = None) -> str:
    """The edits that bind one front-end's services to its own address (and point oned.conf
    at the MySQL backend, `db_section`, when there is one)."""
    a = node.address
    url = ENDPOINT.format(address=a)
    py = f"""
import re, pathlib
def edit(path, *subs):
    p = pathlib.Path(path)
    if not p.exists():
        return
    text = p.read_text()
    for pattern, repl in subs:
        text = re.sub(pattern, repl, text, flags=re.M)
    p.write_text(text)
def uncomment(path, first, back=0):
    # the commented block whose line matches `first` (from `back` lines before it) to its ]
    p = pathlib.Path(path)
    lines = p.read_text().split("\\n")
    i = next(n for n, ln in enumerate(lines) if re.match(first, ln)) - back
    while True:
        lines[i] = re.sub(r"^#", "", lines[i])
        if "]" in lines[i]:
            break
        i += 1
    p.write_text("\\n".join(lines))
edit("/etc/one/oned.conf",
     (r'^LISTEN_ADDRESS\\s*=.*$', 'LISTEN_ADDRESS = "{a}"'),
     (r'^#?\\s*HOSTNAME\\s*=.*$', 'HOSTNAME = "{a}"'),
     (r'-b 127\\.0\\.0\\.1', '-b {a}'))
uncomment("/etc/one/oned.conf", r'#VM_MAD = \\[ NAME="dummy"')
DB_SECTION = {db_section!r}
if DB_SECTION:
    edit("/etc/one/oned.conf", (r'^DB\\s*=\\s*\\[[^\\]]*\\]', lambda m: DB_SECTION))
edit("/etc/one/monitord.conf", (r'^(\\s*)ADDRESS(\\s*)= "0\\.0\\.0\\.0"', r'\\1ADDRESS\\2= "{a}"'),
     # the lab's choice: a host result every 10 s rather than 120 s, and a host silent
     # for 30 s (not 180 s) gets its probes restarted, so that a check for a fresh result
     # after an upgrade waits seconds, not minutes
     (r'^(\\s*)MONITOR_HOST(\\s*)=\\s*\\d+', r'\\1MONITOR_HOST\\2= 10'),
     (r'^#?MONITORING_INTERVAL_HOST(\\s*)=\\s*\\d+', r'MONITORING_INTERVAL_HOST\\1= 30'))
uncomment("/etc/one/monitord.conf", r'#\\s*NAME\\s*= "dummy"', back=1)
edit("/etc/one/sched.conf", (r'^ONE_XMLRPC\\s*=.*$', 'ONE_XMLRPC = "{url}"'))
edit("/etc/one/onehem-server.conf", (r'tcp://localhost:', 'tcp://{a}:'))
for name in ("onegate-server.conf", "oneflow-server.conf"):
    edit("/etc/one/" + name, (r'^:host:.*$', ':host: {a}'),
         (r'^:one_xmlrpc:.*$', ':one_xmlrpc: {url}'))
"""
    return (
        f"python3 - <<'EOF'\n{py}\nEOF\n"
        "install -d -o oneadmin -g oneadmin -m 700 /var/lib/one/.one\n"
        "install -d -m 700 /root/.one && cp /var/lib/one/.one/one_auth /root/.one/one_auth\n"
        f"echo {shlex.quote(url)} > /var/lib/one/.one/one_endpoint\n"
        "chown oneadmin:oneadmin /var/lib/one/.one/one_endpoint\n"
        "install -o oneadmin -g oneadmin -m 600 /root/.ssh/known_hosts "
        "/var/lib/one/.ssh/known_hosts\n"
    )


def _zone(lab: Runner, node: str) -> dict[str, Any]:
    return dict(json.loads(sh(lab, node, "onezone show 0 -j"))["ZONE"])


def wait(what: str, probe: Callable[[], bool], timeout: float = UP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (LabError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise LabError(f"real tier: {what} not reached after {timeout:.0f}s")
        time.sleep(1.0)


def servers(zone: dict[str, Any]) -> list[dict[str, Any]]:
    pool = zone.get("SERVER_POOL") or {}
    found = pool.get("SERVER", [])
    return [found] if isinstance(found, dict) else list(found)


def _states(lab: Runner, node: str) -> dict[str, str]:
    return {s["NAME"]: s.get("STATE", "") for s in servers(_zone(lab, node))}


def set_server_id(lab: Runner, node: str, server_id: int) -> None:
    sh(lab, node, f"sed -i -E 's/^(\\s*SERVER_ID\\s*=\\s*)-?[0-9]+/\\1{server_id}/' "
                  "/etc/one/oned.conf")  # fmt: skip


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
        secret = mariadb.password()  # one for the zone: /etc/one is the same on every server

        def serve(fe: NodeSpec) -> None:
            sh(lab, fe.name, mariadb.setup_script(fe, secret), UP_TIMEOUT)

        _each(fes, serve)
        timings["database"] = time.monotonic() - started - timings["install"]
    for fe in fes:
        db_section = mariadb.oned_db_section(secret, fe) if db == "mysql" else None
        sh(lab, fe.name, configure_script(fe, db_section))
    units = [u for u in FRONTEND_UNITS if u in offered(series)]
    first = fes[0]
    ha = first.server_id >= 0
    if ha:
        # "Raft: Adding More Servers": the first server alone, server-add, SERVER_ID, restart.
        start_units(lab, first.name, ["opennebula"])
        wait("oned on the first front-end", lambda: bool(_zone(lab, first.name)))
        url = ENDPOINT.format(address=first.address)
        sh(lab, first.name, f"onezone server-add 0 --name {first.name} --rpc {url}")
        sh(lab, first.name, "systemctl stop opennebula", UP_TIMEOUT)
        set_server_id(lab, first.name, first.server_id)
    start_units(lab, first.name, units)
    wait("the first front-end", lambda: bool(_zone(lab, first.name)))
    if ha:
        wait("a leader", lambda: _states(lab, first.name).get(first.name) == "3")
        _add_followers(lab, first, fes[1:], units)
    timings["zone"] = time.monotonic() - started - timings["install"]
    _hosts(lab, spec, first.name)
    _vms(lab, spec, first.name)
    _each(fes, lambda fe: _check_active(lab, fe.name, units))
    timings["all"] = time.monotonic() - started
    return timings


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

    _each(others, copy)
    # One at a time, as the guide says: a server added but not started leaves the zone
    # without a majority, so the next server-add could not commit.
    for fe in others:
        url = ENDPOINT.format(address=fe.address)
        sh(lab, leader.name, f"onezone server-add 0 --name {fe.name} --rpc {url}")
        start_units(lab, fe.name, units)
        wait(f"{fe.name} a follower", partial(_is_state, lab, leader.name, fe.name, "2"))


def _check_active(lab: Runner, node: str, units: list[str]) -> None:
    """Every unit the lab started is still running (a server that died at start shows)."""
    rc, out, _ = lab.run(node, f"systemctl is-active {' '.join(units)}")
    if rc != 0:
        dead = [u for u, state in zip(units, out.split(), strict=False) if state != "active"]
        logs = sh(lab, node, " ; ".join(f"tail -n 3 /var/log/one-lab/units/{u}.service.log"
                                          for u in dead))  # fmt: skip
        raise LabError(f"{node}: {', '.join(dead)} not running: {' | '.join(logs.splitlines())}")


def _is_state(lab: Runner, asked: str, server: str, state: str) -> bool:
    return _states(lab, asked).get(server) == state


def _hosts(lab: Runner, spec: ClusterSpec, leader: str) -> None:
    if not spec.hypervisors:
        return
    key = sh(lab, leader, "cat /var/lib/one/.ssh/id_rsa.pub").strip()

    def trust(hv: NodeSpec) -> None:
        sh(lab, hv.name,
           "install -d -o oneadmin -g oneadmin -m 700 /var/lib/one/.ssh && "
           f"echo {shlex.quote(key)} >> /var/lib/one/.ssh/authorized_keys && "
           "chown oneadmin:oneadmin /var/lib/one/.ssh/authorized_keys")  # fmt: skip

    _each(spec.hypervisors, trust)
    for hv in spec.hypervisors:
        sh(lab, leader, f"onehost create {hv.name} -i dummy -v dummy")

    def monitored() -> bool:
        data = json.loads(sh(lab, leader, "onehost list -j"))
        hosts = _as_list((data.get("HOST_POOL") or {}).get("HOST"))
        return len(hosts) == len(spec.hypervisors) and all(h["STATE"] == "2" for h in hosts)

    wait("every host MONITORED", monitored)


def _vms(lab: Runner, spec: ClusterSpec, leader: str) -> None:
    if not spec.vms or not spec.hypervisors:
        return
    sh(lab, leader, f"printf %s {shlex.quote(VM_TEMPLATE)} > /tmp/lab-vm.tmpl && "
                    "onetemplate create /tmp/lab-vm.tmpl")  # fmt: skip
    sh(lab, leader, f"onetemplate instantiate lab-vm --multiple {spec.vms}")

    def running() -> bool:
        data = json.loads(sh(lab, leader, "onevm list -j"))
        vms = _as_list((data.get("VM_POOL") or {}).get("VM"))
        states = {(v["STATE"], v["LCM_STATE"]) for v in vms}
        return len(vms) == spec.vms and states == {("3", "3")}

    wait("every VM RUNNING", running)


def leader_of(lab: Runner, spec: ClusterSpec) -> str | None:
    for fe in spec.frontends:
        try:
            for s in servers(_zone(lab, fe.name)):
                if s.get("STATE") == "3":
                    return str(s["NAME"])
            if fe.server_id < 0:
                return fe.name
        except LabError:
            continue
    return None


def status(lab: Runner, spec: ClusterSpec) -> dict[str, Any]:
    """The zone, hosts and VMs as the real CLI shows them (for `status`)."""
    leader = leader_of(lab, spec)
    if leader is None:
        return {"leader": None}
    zone = _zone(lab, leader)
    hosts = json.loads(sh(lab, leader, "onehost list -j")).get("HOST_POOL") or {}
    vms = json.loads(sh(lab, leader, "onevm list -j")).get("VM_POOL") or {}
    host_list = hosts.get("HOST", [])
    vm_list = vms.get("VM", [])
    return {
        "leader": leader,
        "servers": {
            s["NAME"]: {k: s.get(k) for k in ("STATE", "TERM", "INDEX", "COMMIT")}
            for s in servers(zone)
        },
        "hosts": {h["NAME"]: h["STATE"] for h in _as_list(host_list)},
        "vms": {v["ID"]: [v["STATE"], v["LCM_STATE"]] for v in _as_list(vm_list)},
        "versions": {
            fe.name: sh(lab, fe.name, "onedb version 2>&1 || true").strip() for fe in spec.frontends
        },
    }


def _as_list(found: Any) -> list[Any]:
    """The CLI's JSON: one element is a dict, none is {} (reference §4.6)."""
    if not found:
        return []
    return [found] if isinstance(found, dict) else list(found)

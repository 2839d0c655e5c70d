"""`up`: allocate a range, write keys, seed the simulation, prepare and start every node."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import addresses, jump, keys, nodes, procs, sim
from .errors import LabError
from .inventory_file import IDENTITY, KNOWN_HOSTS, inventory, known_hosts_text, write_inventory
from .real import node as real_node
from .real import tier
from .real.build import series_of
from .sim import state as sim_state

LAB_JSON = "lab.json"
OSES = ("debian12", "debian11", "ubuntu24.04", "alma9")
HYPERVISORS = ("kvm", "lxc")
TIERS = ("sim", "real")
DATABASES = ("sqlite", "mysql")
# Node preparation is file creation, bound by the kernel: two threads help, more do not.
PREP_WORKERS = 2
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*$")
GATE = "gate"  # key of the jump gate's Popen among the started processes


@dataclass(frozen=True)
class Options:
    frontends: int = 3
    hypervisors: int = 2
    version: str = "6.10"
    os: str = "debian12"
    port: int = 2222
    base_address: str | None = None
    latencies: dict[str, float] | None = None
    vms: int | None = None  # default: one per hypervisor
    hypervisor: str = "kvm"
    force_command: bool = True
    login_user: str | None = None  # a non-root login with sudo on every node
    sudo_password: str | None = None  # its sudo password (None: NOPASSWD)
    jump: bool = False  # nodes reachable only through a jump node
    opennebula: str = "sim"  # "sim": the simulation; "real": OpenNebula built from source
    db: str = "sqlite"  # the real tier's database backend: "sqlite" or "mysql" (MariaDB)


def validate(opts: Options) -> None:
    if not 1 <= opts.frontends <= addresses.MAX_FRONTENDS:
        raise LabError(f"--frontends must be 1..{addresses.MAX_FRONTENDS}")
    if not 0 <= opts.hypervisors <= addresses.MAX_HYPERVISORS:
        raise LabError(f"--hypervisors must be 0..{addresses.MAX_HYPERVISORS}")
    if opts.os not in OSES:
        raise LabError(f"--os must be one of {', '.join(OSES)}")
    if opts.hypervisor not in HYPERVISORS:
        raise LabError(f"--hypervisor must be one of {', '.join(HYPERVISORS)}")
    if not 1 <= opts.port <= 65535:
        raise LabError("--port must be 1..65535")
    if opts.vms is not None and opts.vms < 0:
        raise LabError("--vms must be >= 0")
    user = opts.login_user
    if user is not None and (user in ("root", "oneadmin") or not USER_RE.match(user)):
        raise LabError("--login-user must be a lower-case user name other than root or oneadmin")
    if opts.sudo_password is not None and (opts.login_user is None or not opts.sudo_password):
        raise LabError("--sudo-password needs --login-user and a non-empty password")
    if opts.opennebula not in TIERS:
        raise LabError(f"--opennebula must be one of {', '.join(TIERS)}")
    if opts.db not in DATABASES:
        raise LabError(f"--db must be one of {', '.join(DATABASES)}")
    if opts.db != "sqlite" and opts.opennebula != "real":
        raise LabError("--db chooses the real tier's backend (with --opennebula real)")
    if opts.opennebula == "real":
        if opts.os != "debian12":
            raise LabError("the real tier runs Debian 12 nodes only (--os debian12)")
        if opts.hypervisor != "kvm":
            raise LabError("the real tier's hosts are KVM nodes (--hypervisor kvm)")
        if opts.hypervisors > 20 or opts.frontends > 5:
            raise LabError("the real tier runs at most 5 front-ends and 20 hypervisors")


def parse_latencies(text: str) -> dict[str, float]:
    """'apt-get install=2.0,onedb upgrade=1.0' -> {'apt-get install': 2.0, 'onedb upgrade': 1.0}"""
    result: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, sep, seconds = item.rpartition("=")
        try:
            if not sep or not pattern.strip():
                raise ValueError(item)
            result[pattern.strip()] = float(seconds)
        except ValueError:
            raise LabError(f"--latency item {item!r} is not 'command=seconds'") from None
    return result


def cluster_spec(rng: addresses.Range, opts: Options, release: str) -> sim.ClusterSpec:
    ha = opts.frontends > 1
    specs = [
        sim.NodeSpec(
            name=f"fe{i}",
            address=addresses.frontend_address(rng, i),
            role="frontend",
            os=opts.os,
            server_id=i - 1 if ha else -1,
            hypervisor=None,
        )
        for i in range(1, opts.frontends + 1)
    ]
    specs += [
        sim.NodeSpec(
            name=f"hv{i}",
            address=addresses.hypervisor_address(rng, i),
            role="hypervisor",
            os=opts.os,
            server_id=-1,
            hypervisor=opts.hypervisor,
        )
        for i in range(1, opts.hypervisors + 1)
    ]
    vms = opts.hypervisors if opts.vms is None else opts.vms
    return sim.ClusterSpec(
        nodes=specs, release=release, vip=rng.vip, zone_name="OpenNebula", vms=vms
    )


def running_nodes(lab_dir: Path) -> list[int]:
    """Pids of live processes in any namespace of a lab in lab_dir."""
    marker = procs.node_marker(str(lab_dir / "nodes"))
    return [p for ps in procs.lab_namespaces(marker).values() for p in ps]


def build(
    lab_dir: Path, opts: Options
) -> tuple[dict[str, Any], dict[str, subprocess.Popen[bytes]]]:
    """Build and start a lab; returns (lab.json contents, the sshd Popen per node)."""
    validate(opts)
    lab_dir = nodes.check_lab_dir(lab_dir)
    real = None
    if opts.opennebula == "real":
        real = tier.prepare(opts.version)  # builds what the cache lacks (minutes, once)
        release, target = real.release, real.target or real.release
    else:
        try:
            release = sim.resolve_release(opts.version)
        except ValueError as exc:
            raise LabError(f"--version {opts.version!r}: {exc}") from None
        target = sim.next_series(release)
    lab_dir.mkdir(parents=True, exist_ok=True)
    if running_nodes(lab_dir):
        raise LabError(f"{lab_dir} holds a running lab; run 'down --dir {lab_dir}' first")
    nodes.remove_stale(lab_dir)
    (lab_dir / LAB_JSON).unlink(missing_ok=True)

    rng, placeholder = addresses.allocate(opts.port, opts.base_address)
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        spec = cluster_spec(rng, opts, release)
        peers = {n.name: n.address for n in spec.nodes}
        if opts.jump:
            peers[jump.NAME] = rng.host(jump.HOST)
        login = None
        if opts.login_user is not None:
            hashed = nodes.password_hash(opts.sudo_password) if opts.sudo_password else None
            login = nodes.Login(opts.login_user, hashed)
        client_private, client_public = keys.new_ed25519(f"oneupgrade-lab@{rng.base}")
        keys.write_private(lab_dir / IDENTITY, client_private)
        (lab_dir / f"{IDENTITY}.pub").write_text(client_public + "\n")
        host_pairs = {name: keys.new_ed25519(f"root@{name}") for name in peers}
        host_keys = {name: keys.public_blob(pair[1]) for name, pair in host_pairs.items()}
        (lab_dir / KNOWN_HOSTS).write_text(known_hosts_text(peers, host_keys, opts.port))
        files = nodes.NodeFiles(
            client_private=client_private,
            client_public=client_public,
            known_hosts=(lab_dir / KNOWN_HOSTS).read_text(),
            port=opts.port,
            peers=peers,
        )
        node_known = nodes.node_known_hosts(files, host_keys)
        shared = lab_dir / "shared"
        shared.mkdir()
        mounts: tuple[str, ...] = ()
        if real is None:
            sim.seed_cluster(shared, spec)
        else:
            sim_state.init_shared(shared, {}, {})  # the rules (faults) the sessions read
            (shared / sim.REAL_TIER).touch()  # no command is simulated: the session's rules
            mounts = (real_node.repo_mount(real.repo),)
        if opts.latencies:
            sim.set_latencies(shared, opts.latencies)

        def prepare(node: sim.NodeSpec) -> None:
            upper = nodes.prepare(
                lab_dir, node.name, node.address, files, host_pairs[node.name], node_known,
                opts.force_command, login, mounts,
            )  # fmt: skip
            if real is None:
                sim.seed_node(upper, spec, node)
            else:
                real_node.seed_node(upper, spec, node, series_of(release))

        with ThreadPoolExecutor(max_workers=PREP_WORKERS) as pool:
            list(pool.map(prepare, spec.nodes))
        enter: list[str] | None = None
        accepts = None
        if opts.jump:
            # A plain sshd node, no OpenNebula role; then the namespace only it opens to.
            jump_address = peers[jump.NAME]
            nodes.prepare(
                lab_dir, jump.NAME, jump_address, files, host_pairs[jump.NAME], node_known,
                False, login,
            )  # fmt: skip
            started[GATE] = jump.start_gate(lab_dir, jump_address, opts.port)
            enter = jump.enter(lab_dir)
            gate = started[GATE].pid
            accepts = lambda address, port: jump.listening_in(gate, address, port)  # noqa: E731
        listening = {n.name: (n.address, opts.port) for n in spec.nodes}
        if opts.jump:
            listening[jump.NAME] = (peers[jump.NAME], opts.port)
        for name in listening:
            started[name] = nodes.start(lab_dir, name, enter)
        nodes.wait_listening(lab_dir, listening, started, accepts=accepts)
    except BaseException:
        nodes.stop_all(lab_dir, [n for n in started if n != GATE])
        jump.stop_gate(lab_dir)
        for proc in started.values():
            proc.wait()
        raise
    finally:
        placeholder.close()

    info: dict[str, Any] = {
        "dir": str(lab_dir),
        "prefix": rng.prefix,
        "port": opts.port,
        "vip": rng.vip,
        "cluster": f"lab-{rng.third_octet}",
        "release": release,
        "target": target,
        "os": opts.os,
        "hypervisor": opts.hypervisor,
        "vms": spec.vms,
        "latencies": opts.latencies or {},
        "nodes": [n.to_json() for n in spec.nodes],
        "login_user": opts.login_user,
        "sudo_password": bool(opts.sudo_password),
        "jump": {"name": jump.NAME, "address": peers[jump.NAME]} if opts.jump else None,
        "opennebula": opts.opennebula,
        "db": opts.db if real is not None else None,
    }
    ssh_config = None
    if opts.jump:
        ssh_config = lab_dir / jump.SSH_CONFIG
        ssh_config.write_text(
            jump.ssh_config(
                lab_dir,
                peers[jump.NAME],
                {n.name: n.address for n in spec.nodes},
                opts.port,
                opts.login_user or "root",
            )
        )
    save(lab_dir, info)
    write_inventory(
        lab_dir,
        inventory(
            spec,
            info["cluster"],
            target,
            opts.port,
            login_user=opts.login_user,
            sudo_password=bool(opts.sudo_password),
            ssh_config=ssh_config,
            vip=spec.vip if real is None else None,
        ),
    )
    return info, started


def save(lab_dir: Path, info: dict[str, Any]) -> None:
    (lab_dir / LAB_JSON).write_text(json.dumps(info, indent=1) + "\n")


def load(lab_dir: Path) -> dict[str, Any]:
    path = lab_dir.resolve() / LAB_JSON
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"no lab in {lab_dir} (missing {LAB_JSON})") from None
    except ValueError:
        raise LabError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise LabError(f"{path} is not a lab description")
    return data

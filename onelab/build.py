"""`up`: allocate a range, write keys, seed the simulation, prepare and start every node."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from . import addresses, jump, nodes, procs, sim
from .accounts import Login, password_hash
from .errors import LabError
from .inventory_file import inventory, write_inventory
from .keyring import Keyring, write_keys
from .options import Options, validate
from .real import node as real_node
from .real import tier
from .real.build import series_of
from .sim import state as sim_state

LAB_JSON = "lab.json"
# Node preparation is file creation, bound by the kernel: two threads help, more do not.
PREP_WORKERS = 2
GATE = "gate"  # key of the jump gate's Popen among the started processes


@dataclass(frozen=True)
class Setup:
    """What every node of the lab being built is made from."""

    lab_dir: Path
    opts: Options
    spec: sim.ClusterSpec
    peers: dict[str, str]  # name -> address of every node, the jump node's too
    login: Login | None
    keyring: Keyring
    mounts: tuple[str, ...]  # more fstab lines (the real tier's package repository)
    real: tier.Releases | None  # None: the simulation


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
    real, release, target = _releases(opts)
    _clear(lab_dir)
    rng, placeholder = addresses.allocate(opts.port, opts.base_address)
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        setup = _setup(lab_dir, opts, rng, release, real)
        with ThreadPoolExecutor(max_workers=PREP_WORKERS) as pool:
            list(pool.map(partial(_prepare_node, setup), setup.spec.nodes))
        _start_nodes(setup, started)
    except BaseException:
        nodes.stop_all(lab_dir, [n for n in started if n != GATE])
        jump.stop_gate(lab_dir)
        for proc in started.values():
            proc.wait()
        raise
    finally:
        placeholder.close()
    info = _info(setup, rng, target)
    _describe(setup, info, target)
    return info, started


def _releases(opts: Options) -> tuple[tier.Releases | None, str, str]:
    """(the real tier's releases or None, the lab's release, the upgrade's target)."""
    if opts.opennebula == "real":
        real = tier.prepare(opts.version)  # builds what the cache lacks (minutes, once)
        return real, real.release, real.target or real.release
    try:
        release = sim.resolve_release(opts.version)
    except ValueError as exc:
        raise LabError(f"--version {opts.version!r}: {exc}") from None
    return None, release, sim.next_series(release)


def _clear(lab_dir: Path) -> None:
    """The lab directory, made or emptied of an earlier (stopped) lab."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    if running_nodes(lab_dir):
        raise LabError(f"{lab_dir} holds a running lab; run 'down --dir {lab_dir}' first")
    nodes.remove_stale(lab_dir)
    (lab_dir / LAB_JSON).unlink(missing_ok=True)


def _setup(
    lab_dir: Path,
    opts: Options,
    rng: addresses.Range,
    release: str,
    real: tier.Releases | None,
) -> Setup:
    """The nodes, the login user, the keys and the shared state of the lab."""
    spec = cluster_spec(rng, opts, release)
    peers = {n.name: n.address for n in spec.nodes}
    if opts.jump:
        peers[jump.NAME] = rng.host(jump.HOST)
    login = None
    if opts.login_user is not None:
        hashed = password_hash(opts.sudo_password) if opts.sudo_password else None
        login = Login(opts.login_user, hashed)
    keyring = write_keys(lab_dir, rng.base, peers, opts.port)
    mounts = _seed_shared(lab_dir / "shared", spec, real, opts.latencies)
    return Setup(lab_dir, opts, spec, peers, login, keyring, mounts, real)


def _seed_shared(
    shared: Path,
    spec: sim.ClusterSpec,
    real: tier.Releases | None,
    latencies: dict[str, float] | None,
) -> tuple[str, ...]:
    """DIR/shared: the simulated cluster, or only the session's rules on the real tier;
    returns the nodes' extra fstab lines."""
    shared.mkdir()
    mounts: tuple[str, ...] = ()
    if real is None:
        sim.seed_cluster(shared, spec)
    else:
        sim_state.init_shared(shared, {}, {})  # the rules (faults) the sessions read
        (shared / sim.REAL_TIER).touch()  # no command is simulated: the session's rules
        mounts = (real_node.repo_mount(real.repo),)
    if latencies:
        sim.set_latencies(shared, latencies)
    return mounts


def _prepare_node(setup: Setup, node: sim.NodeSpec) -> None:
    keyring = setup.keyring
    upper = nodes.prepare(
        setup.lab_dir, node.name, node.address, keyring.files, keyring.host_pairs[node.name],
        keyring.node_known, setup.opts.force_command, setup.login, setup.mounts,
    )  # fmt: skip
    if setup.real is None:
        sim.seed_node(upper, setup.spec, node)
    else:
        real_node.seed_node(upper, setup.spec, node, series_of(setup.real.release))


def _start_nodes(setup: Setup, started: dict[str, subprocess.Popen[bytes]]) -> None:
    """Start every node's sshd (the jump node's gate first), recorded in `started`;
    return when all listen."""
    opts = setup.opts
    enter: list[str] | None = None
    accepts = None
    if opts.jump:
        enter, accepts = _start_jump(setup, started)
    listening = {n.name: (n.address, opts.port) for n in setup.spec.nodes}
    if opts.jump:
        listening[jump.NAME] = (setup.peers[jump.NAME], opts.port)
    for name in listening:
        started[name] = nodes.start(setup.lab_dir, name, enter)
    nodes.wait_listening(setup.lab_dir, listening, started, accepts=accepts)


def _start_jump(
    setup: Setup, started: dict[str, subprocess.Popen[bytes]]
) -> tuple[list[str], Callable[[str, int], bool]]:
    """The jump node prepared and its gate started: (the prefix that enters the nodes'
    network namespace, the probe of a node's listener there)."""
    # A plain sshd node, no OpenNebula role; then the namespace only it opens to.
    keyring = setup.keyring
    jump_address = setup.peers[jump.NAME]
    nodes.prepare(
        setup.lab_dir, jump.NAME, jump_address, keyring.files, keyring.host_pairs[jump.NAME],
        keyring.node_known, False, setup.login,
    )  # fmt: skip
    started[GATE] = jump.start_gate(setup.lab_dir, jump_address, setup.opts.port)
    enter = jump.enter(setup.lab_dir)
    gate = started[GATE].pid
    return enter, lambda address, port: jump.listening_in(gate, address, port)


def _info(setup: Setup, rng: addresses.Range, target: str) -> dict[str, Any]:
    """lab.json's contents."""
    opts, spec = setup.opts, setup.spec
    return {
        "dir": str(setup.lab_dir),
        "prefix": rng.prefix,
        "port": opts.port,
        "vip": rng.vip,
        "cluster": f"lab-{rng.third_octet}",
        "release": spec.release,
        "target": target,
        "os": opts.os,
        "hypervisor": opts.hypervisor,
        "vms": spec.vms,
        "latencies": opts.latencies or {},
        "nodes": [n.to_json() for n in spec.nodes],
        "login_user": opts.login_user,
        "sudo_password": bool(opts.sudo_password),
        "jump": {"name": jump.NAME, "address": setup.peers[jump.NAME]} if opts.jump else None,
        "opennebula": opts.opennebula,
        "db": opts.db if setup.real is not None else None,
    }


def _describe(setup: Setup, info: dict[str, Any], target: str) -> None:
    """DIR/ssh_config (behind a jump node), lab.json and the inventory."""
    opts, spec, lab_dir = setup.opts, setup.spec, setup.lab_dir
    ssh_config = None
    if opts.jump:
        ssh_config = lab_dir / jump.SSH_CONFIG
        ssh_config.write_text(
            jump.ssh_config(
                lab_dir,
                setup.peers[jump.NAME],
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
            vip=spec.vip if setup.real is None else None,
        ),
    )


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

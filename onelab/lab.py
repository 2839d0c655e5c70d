"""The Lab Python API: build a lab, reach its nodes over real SSH, inject faults, tear down.

with Lab.up(tmp / "lab", frontends=3, hypervisors=2) as lab:
    rc, out, err = lab.run("fe1", "hostname")
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko

from . import build, jump, nodes, sim
from .errors import LabError
from .inventory_file import IDENTITY, INVENTORY, KNOWN_HOSTS
from .real import zone
from .real.build import series_of


class Lab:
    """A running (or stopped) lab in its directory."""

    def __init__(
        self, lab_dir: Path, info: dict[str, Any], started: dict[str, subprocess.Popen[bytes]]
    ) -> None:
        self.dir = lab_dir.resolve()
        self.info = info
        self._procs = dict(started)
        self._conns: dict[str, paramiko.SSHClient] = {}
        self._lock = threading.RLock()  # connect() through the jump node re-enters

    # --- life cycle -------------------------------------------------------------------
    @classmethod
    def up(
        cls,
        lab_dir: Path | str,
        frontends: int = 3,
        hypervisors: int = 2,
        version: str = "6.10",
        os: str = "debian12",
        latencies: dict[str, float] | None = None,
        *,
        port: int = 2222,
        base_address: str | None = None,
        vms: int | None = None,
        hypervisor: str = "kvm",
        force_command: bool = True,
        login_user: str | None = None,
        sudo_password: str | None = None,
        jump: bool = False,
        opennebula: str = "sim",
        db: str = "sqlite",
    ) -> Lab:
        """Build and start a lab. `opennebula="real"`: the front-ends run OpenNebula built
        from its upstream source, installed from the lab's repository (see lab/real/); `db`
        its backend: "sqlite", or "mysql" (a MariaDB server on each front-end).
        `login_user`: a non-root user with sudo (NOPASSWD, or
        `sudo_password`) on every node, and the inventory logs in as it. `jump`: the nodes
        are reachable only through an extra node `jump1` (DIR/ssh_config, ProxyJump)."""
        opts = build.Options(
            frontends=frontends,
            hypervisors=hypervisors,
            version=version,
            os=os,
            port=port,
            base_address=base_address,
            latencies=latencies,
            vms=vms,
            hypervisor=hypervisor,
            force_command=force_command,
            login_user=login_user,
            sudo_password=sudo_password,
            jump=jump,
            opennebula=opennebula,
            db=db,
        )
        info, started = build.build(Path(lab_dir), opts)
        lab = cls(Path(lab_dir), info, started)
        if lab.real:
            try:
                lab.info["timings"] = zone.bootstrap(
                    lab, lab.spec, series_of(lab.release), db=lab.info["db"]
                )
            except BaseException:
                lab.down()
                raise
            build.save(lab.dir, lab.info)
        return lab

    @classmethod
    def open(cls, lab_dir: Path | str) -> Lab:
        """The lab an earlier `up` built in lab_dir."""
        return cls(Path(lab_dir), build.load(Path(lab_dir)), {})

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def down(self) -> int:
        """Stop every process of the lab; returns how many node namespaces were stopped."""
        self.close_connections()
        count = down(self.dir, self.names + ([jump.NAME] if self.jump else []))
        for proc in self._procs.values():
            proc.wait()
        self._procs.clear()
        return count

    # --- description ------------------------------------------------------------------
    @property
    def inventory_path(self) -> Path:
        return self.dir / INVENTORY

    @property
    def known_hosts(self) -> Path:
        return self.dir / KNOWN_HOSTS

    @property
    def identity(self) -> Path:
        return self.dir / IDENTITY

    @property
    def shared(self) -> Path:
        return self.dir / "shared"

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def real(self) -> bool:
        """Whether the nodes run real OpenNebula (the real tier) rather than the simulation."""
        return self.info.get("opennebula") == "real"

    @property
    def release(self) -> str:
        return str(self.info["release"])

    @property
    def spec(self) -> sim.ClusterSpec:
        return sim.ClusterSpec(
            nodes=self.specs,
            release=self.release,
            vip=str(self.info["vip"]),
            vms=int(self.info["vms"]),
        )

    @property
    def specs(self) -> list[sim.NodeSpec]:
        return [sim.NodeSpec.from_json(n) for n in self.info["nodes"]]

    @property
    def nodes(self) -> dict[str, str]:
        """name -> address of every node."""
        return {str(n["name"]): str(n["address"]) for n in self.info["nodes"]}

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    def upper(self, name: str) -> Path:
        return nodes.node_dir(self.dir, name) / "upper"

    @property
    def jump(self) -> dict[str, str] | None:
        """{"name", "address"} of the jump node of a lab built with jump=True."""
        found = self.info.get("jump")
        return dict(found) if found else None

    @property
    def ssh_config(self) -> Path:
        return self.dir / jump.SSH_CONFIG

    def address(self, name: str) -> str:
        if self.jump and name == self.jump["name"]:
            return self.jump["address"]
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"no node {name!r} in this lab") from None

    def _accepts(self, address: str, port: int) -> bool:
        if self.jump and address != self.jump["address"]:
            gate = jump.gate_pid(self.dir)
            return gate is not None and jump.listening_in(gate, address, port)
        return _listening(address, port)

    # --- SSH ----------------------------------------------------------------------------
    def connect(self, name: str, timeout: float = 10.0) -> paramiko.SSHClient:
        """A new SSH connection to a node as root: strict host keys, the lab's key only
        (through the jump node when the lab has one)."""
        address = self.address(name)
        sock: socket.socket | paramiko.Channel
        if self.jump and name != self.jump["name"]:
            transport = self._client(self.jump["name"]).get_transport()
            assert transport is not None
            sock = transport.open_channel(
                "direct-tcpip", (address, self.port), ("127.0.0.1", 0), timeout=timeout
            )
        else:
            sock = socket.create_connection((address, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                address,
                port=self.port,
                username="root",
                key_filename=str(self.identity),
                look_for_keys=False,
                allow_agent=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                sock=sock,
            )
        except BaseException:
            client.close()
            sock.close()
            raise
        return client

    def _client(self, name: str) -> paramiko.SSHClient:
        with self._lock:
            client = self._conns.get(name)
            transport = client.get_transport() if client else None
            if client is None or transport is None or not transport.is_active():
                if client is not None:
                    client.close()
                client = self._conns[name] = self.connect(name)
            return client

    def run(self, name: str, command: str, timeout: float = 30) -> tuple[int, str, str]:
        """Run a command on a node over its kept-open connection; (rc, stdout, stderr).

        Raises TimeoutError after `timeout` seconds and paramiko.SSHException when the
        connection closes before the command's exit status arrives."""
        client = self._client(name)
        transport = client.get_transport()
        assert transport is not None
        chan = transport.open_session(timeout=timeout)
        try:
            chan.exec_command(command)
            chan.shutdown_write()
            return _drain(chan, name, timeout)
        finally:
            chan.close()

    def close_connections(self) -> None:
        with self._lock:
            for client in self._conns.values():
                client.close()
            self._conns.clear()

    # --- simulation controls --------------------------------------------------------------
    def fault(
        self,
        node: str,
        pattern: str,
        *,
        times: int | None = 1,
        action: str = "exit",
        exit_code: int = 1,
    ) -> None:
        """Make commands matching `pattern` on `node` fail (exit), hang or drop the
        connection, `times` times (None: always)."""
        self.address(node)
        sim.add_fault(self.shared, node, pattern, times=times, action=action, exit_code=exit_code)

    def clear_faults(self, node: str | None = None) -> None:
        sim.clear_faults(self.shared, node)

    def set_latencies(self, latencies: dict[str, float]) -> None:
        sim.set_latencies(self.shared, latencies)

    def hold_vm(self, vm_id: int, lcm_state: str = "MIGRATE", seconds: float = 5.0) -> None:
        sim.hold_vm(self.shared, vm_id, lcm_state, seconds)

    def fsck_errors(self, name: str, errors: list[str]) -> None:
        self.address(name)
        sim.fsck_errors(self.shared, name, errors)

    def busy_zone(self, busy: bool = True) -> None:
        sim.busy_zone(self.shared, busy)

    def set_monitoring_interval(self, seconds: float) -> None:
        """A slower (or faster) monitoring cycle for every host of the simulation."""
        sim.set_monitoring_interval(self.shared, seconds)

    def withhold_releases(self, releases: list[str]) -> None:
        """No repository of the lab serves these releases at the next refresh."""
        sim.withhold_releases(self.shared, releases)

    def missing_driver(self, name: str, executable: str) -> None:
        """oned on `name` will not find this driver executable at its next start."""
        self.address(name)
        sim.missing_driver(self.shared, name, executable)

    def clear_missing_drivers(self) -> None:
        sim.clear_missing_drivers(self.shared)

    def add_network(self, name: str, vn_mad: str) -> int:
        """A virtual network on driver `vn_mad` in the zone's database; its id."""
        return int(sim.add_network(self.shared, name, vn_mad))

    def add_vm(self, name: str) -> int:
        """A RUNNING VM created now in the zone's database; its id."""
        return int(sim.add_vm(self.shared, name))

    def stall_follower(self, name: str, stalled: bool = True) -> None:
        self.address(name)
        sim.stall_follower(self.shared, name, stalled)

    def elect(self, leader: str | None = None) -> None:
        if leader is not None:
            self.address(leader)
        sim.force_election(self.shared, leader)

    def stop_node(self, name: str) -> None:
        """Take a node down: its sshd listener and every open session."""
        self.address(name)
        with self._lock:
            client = self._conns.pop(name, None)
        if client is not None:
            client.close()
        nodes.stop(self.dir, name)
        proc = self._procs.pop(name, None)
        if proc is not None:
            proc.wait()
        if not self.real:
            sim.set_node_up(self.shared, name, False)

    def start_node(self, name: str) -> None:
        """Bring a stopped node back: a new namespace over the same overlays."""
        address = self.address(name)
        if nodes.listener_pid(self.dir, name) is not None:
            raise LabError(f"node {name} is already running")
        if not self.real:
            sim.set_node_up(self.shared, name, True)
        proc = nodes.start(self.dir, name, jump.enter(self.dir) if self.jump else None)
        self._procs[name] = proc
        nodes.wait_listening(
            self.dir, {name: (address, self.port)}, {name: proc}, accepts=self._accepts
        )

    def status(self) -> dict[str, Any]:
        """The simulation's status report plus each node's sshd liveness."""
        if self.real:
            report: dict[str, Any] = zone.status(self, self.spec)
            report["db"] = self.info.get("db") or "sqlite"
        else:
            uppers = {name: self.upper(name) for name in self.names}
            report = dict(sim.status(self.shared, uppers))
        report["sshd"] = {
            name: {"pid": nodes.listener_pid(self.dir, name), "up": self._accepts(addr, self.port)}
            for name, addr in self.nodes.items()
        }
        return report


def down(lab_dir: Path, names: list[str] | None = None) -> int:
    """Stop every process of the lab in lab_dir (works without lab.json, after a killed up)."""
    lab_dir = lab_dir.resolve()
    if names is None:
        try:
            names = sorted(p.name for p in (lab_dir / "nodes").iterdir())
        except FileNotFoundError:
            names = []
    count = nodes.stop_all(lab_dir, names)
    jump.stop_gate(lab_dir)
    return count


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _drain(chan: paramiko.Channel, name: str, timeout: float) -> tuple[int, str, str]:
    """Read stdout and stderr as they come (neither can fill its window), then the status."""
    out: list[bytes] = []
    err: list[bytes] = []
    deadline = time.monotonic() + timeout

    def read_ready() -> None:
        while chan.recv_ready():
            out.append(chan.recv(65536))
        while chan.recv_stderr_ready():
            err.append(chan.recv_stderr(65536))

    while not chan.eof_received and not chan.closed:
        read_ready()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{name}: command timed out after {timeout:g}s")
        select.select([chan], [], [], min(remaining, 0.5))
    read_ready()
    if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"{name}: no exit status after {timeout:g}s")
    read_ready()
    transport = chan.get_transport()
    if chan.exit_status == -1 and (transport is None or not transport.is_active()):
        raise paramiko.SSHException(f"connection to {name} closed")
    rc = chan.recv_exit_status()
    return rc, b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace")

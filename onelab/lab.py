"""The Lab Python API: build a lab, reach its nodes over real SSH, inject faults, tear down.

with Lab.up(tmp / "lab", frontends=3, hypervisors=2) as lab:
    rc, out, err = lab.run("fe1", "hostname")
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from . import build, holders, jump, nodes, sim
from .connections import LabConnections
from .controls import SimulationControls
from .errors import LabError
from .options import Options
from .real import zone, zonestate
from .real.build import series_of


class Lab(LabConnections, SimulationControls):
    """A running (or stopped) lab in its directory."""

    def __init__(
        self, lab_dir: Path, info: dict[str, Any], started: dict[str, subprocess.Popen[bytes]]
    ) -> None:
        super().__init__(lab_dir, info)
        self._procs = dict(started)

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
        opts = Options(
            frontends=frontends, hypervisors=hypervisors, version=version, os=os, port=port,
            base_address=base_address, latencies=latencies, vms=vms, hypervisor=hypervisor,
            force_command=force_command, login_user=login_user, sudo_password=sudo_password,
            jump=jump, opennebula=opennebula, db=db,
        )  # fmt: skip
        info, started = build.build(Path(lab_dir), opts)
        holders.hold(Path(lab_dir))  # a run killed from here on leaves it
        lab = cls(Path(lab_dir), info, started)
        if lab.real:
            lab._bootstrap()
        return lab

    def _bootstrap(self) -> None:
        """The real tier's OpenNebula installed and its zone made (or the lab taken down)."""
        try:
            self.info["timings"] = zone.bootstrap(
                self, self.spec, series_of(self.release), db=self.info["db"]
            )
        except BaseException:
            self.down()
            raise
        build.save(self.dir, self.info)

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

    def stop_node(self, name: str) -> None:
        """Take a node down: its sshd listener and every open session."""
        self.address(name)
        self.close_connection(name)
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
            report: dict[str, Any] = zonestate.status(self, self.spec)
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
    holders.release(lab_dir)
    return count

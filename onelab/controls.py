"""The simulation's controls on a lab: faults, latencies, held VMs, elections, and the
other states a test puts the simulated cluster in."""

from __future__ import annotations

from . import sim
from .description import LabDescription


class SimulationControls(LabDescription):
    """Changes to the simulated cluster in the lab's shared state (DIR/shared)."""

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

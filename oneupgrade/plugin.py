"""The pytest plugin: turns `runbook/` into an upgrade of the cluster in `--inventory`.

Nothing runs unless switched on: without `--inventory` a runbook step refuses to be
collected (a usage error), and the project's own tests run as usual. With it, the
`RunbookSession` below is registered: it loads the inventory and the journal,
builds the `cluster` fixture, records every command for the audit log and the HTML
report, stops the run at the first failed step (the rest are skipped, naming it),
and with `--lf` runs only what has not passed in the current campaign.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from pytest_html import extras as html_extras

from oneupgrade import report
from oneupgrade.cluster import Cluster
from oneupgrade.inventory import Inventory, InventoryError, load_inventory
from oneupgrade.journal import Journal
from oneupgrade.recorder import Recorder
from oneupgrade.ssh import CommandResult, Node

inventory_key = pytest.StashKey[Inventory]()
session_key = pytest.StashKey["RunbookSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oneupgrade", "OpenNebula HA upgrade runbook")
    group.addoption(
        "--inventory",
        metavar="PATH",
        help="inventory of the cluster to upgrade; required to run runbook/ (native or one-deploy)",
    )
    group.addoption(
        "--target", metavar="RELEASE", help="target series or release (overrides the inventory)"
    )
    group.addoption(
        "--forks", type=int, default=10, metavar="N", help="nodes worked on at once (default 10)"
    )
    group.addoption(
        "--report-dir",
        metavar="DIR",
        default=None,
        help="where reports/<cluster>/ goes (default: ./reports)",
    )
    group.addoption(
        "--dry-run",
        action="store_true",
        help="run preflight and read-only probes; list every mutating command, run none",
    )
    group.addoption(
        "--hypervisors",
        metavar="NAMES",
        default=None,
        help="step 9 only on these hypervisors (comma-separated names or shell patterns)",
    )
    group.addoption(
        "--vm-timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="step 1: how long to wait for VMs in transient states (default 900 s)",
    )
    group.addoption(
        "--health-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="step 8: how long to wait for a healthy zone (default 300 s)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "step(number, title): the OpenNebula doc step a runbook module carries out"
    )
    path = config.getoption("inventory")
    if path is None:
        return
    try:
        inventory = load_inventory(Path(path), target_override=config.getoption("target"))
    except InventoryError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("forks") < 1:
        raise pytest.UsageError("--forks must be at least 1")
    config.stash[inventory_key] = inventory
    runbook = RunbookSession(config, inventory)
    config.stash[session_key] = runbook
    config.pluginmanager.register(runbook, "oneupgrade-runbook")


def pytest_unconfigure(config: pytest.Config) -> None:
    runbook = config.stash.get(session_key, None)
    if runbook is not None:
        config.pluginmanager.unregister(runbook)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash.get(inventory_key, None) is None and any(
        item.get_closest_marker("step") for item in items
    ):
        raise pytest.UsageError(
            "runbook/ changes a cluster and needs --inventory PATH "
            "(e.g. pytest runbook/ --inventory inventory/prod.yml)"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = metafunc.config.stash.get(inventory_key, None)
    for fixture, role in (("frontend", "frontend"), ("hypervisor", "hypervisor")):
        if fixture in metafunc.fixturenames:
            names = [] if inventory is None else [h.name for h in inventory.nodes if h.role == role]
            metafunc.parametrize(fixture, names, ids=names, indirect=True)


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    runbook = request.config.stash.get(session_key, None)
    if runbook is None:
        pytest.fail("runbook steps need --inventory", pytrace=False)
    return runbook.cluster


@pytest.fixture
def frontend(request: pytest.FixtureRequest, cluster: Cluster) -> Node:
    name: str = request.param
    return cluster.nodes[name]


@pytest.fixture
def hypervisor(request: pytest.FixtureRequest, cluster: Cluster) -> Node:
    name: str = request.param
    return cluster.nodes[name]


@pytest.fixture
def leader(cluster: Cluster) -> Node:
    return cluster.leader


@pytest.fixture
def followers(cluster: Cluster) -> list[Node]:
    return cluster.followers


# -- the runbook session ----------------------------------------------------------


def step_of(item: pytest.Item) -> tuple[int, str] | None:
    marker = item.get_closest_marker("step")
    if marker is None:
        return None
    return int(marker.args[0]), str(marker.args[1])


def step_id(item: pytest.Item) -> str:
    """A stable id for the journal: module file name and test name with its node."""
    return f"{item.path.stem}::{item.name}"


def node_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for key in ("frontend", "hypervisor"):
        if key in callspec.params:
            return str(callspec.params[key])
    return None


class RunbookSession:
    """Hooks and state of one runbook run (registered only with --inventory)."""

    def __init__(self, config: pytest.Config, inventory: Inventory) -> None:
        self.config = config
        self.inventory = inventory
        self.started = time.time()
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started))
        base = config.getoption("report_dir") or str(Path(config.rootpath) / "reports")
        self.report_dir = Path(base) / inventory.cluster
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self.dry_run: bool = config.getoption("dry_run")
        suffix = "-dry-run" if self.dry_run else ""
        if not config.getoption("htmlpath", None):
            config.option.htmlpath = str(self.report_dir / f"{self.run_id}{suffix}.html")
            config.option.self_contained_html = True
        self.html_path = Path(config.option.htmlpath)
        self.journal = Journal.load(self.report_dir / "journal.json")
        self.journal.persist = not self.dry_run
        self.recorder = Recorder(
            self.report_dir / f"{self.run_id}{suffix}.jsonl", self.run_id, inventory
        )
        selection = config.getoption("hypervisors")
        self.cluster = Cluster(
            inventory=inventory,
            nodes={},
            journal=self.journal,
            run_id=self.run_id,
            forks=config.getoption("forks"),
            dry_run=self.dry_run,
            vm_timeout=config.getoption("vm_timeout"),
            health_timeout=config.getoption("health_timeout"),
            hypervisor_selection=tuple(selection.split(",")) if selection else None,
        )
        for host in inventory.nodes:
            self.cluster.nodes[host.name] = Node(
                host, inventory.ssh, self._observe, self.dry_run, self.recorder.become_password
            )
        self.cluster.on_note = self.recorder.note
        self.failed: str | None = None
        self.current: pytest.Item | None = None

    def _observe(self, result: CommandResult, error: str | None) -> None:
        if result.mutating and not result.planned:
            self.journal.mark_changed()
        self.recorder.command(result, error)

    # -- collection ------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        steps = [step_of(i) for i in items]
        numbers = [s[0] for s in steps if s is not None]
        if numbers != sorted(numbers):
            raise pytest.UsageError(
                "runbook steps must run in step order; do not reorder them (no --ff/--nf/-p random)"
            )

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        inv = self.inventory
        mode = " (DRY RUN: nothing will be changed)" if self.dry_run else ""
        return [
            f"oneupgrade: cluster {inv.cluster}, zone {inv.zone}, target {inv.target}{mode}",
            f"inventory: {inv.path} (sha256 {inv.sha256[:16]}...), "
            f"{len(inv.frontends)} front-end(s), {len(inv.hypervisors)} hypervisor(s)",
            f"report: {self.html_path}",
        ]

    # -- running ---------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item
        step = step_of(item)
        self.recorder.begin(item.nodeid, step[0] if step else None, item.name)
        if self.failed is not None and step_of(item) is not None:
            pytest.skip(f"not run: {self.failed}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        rep = yield
        step = step_of(item)
        if step is None:
            return rep
        commands = self.recorder.take_phase()
        self._attach(rep, item, step[0], commands)
        if rep.failed and self.failed is None:
            where = f" on {node_of(item)}" if node_of(item) else ""
            self.failed = f"step {step[0]} '{step[1]}' failed{where} ({item.name}): {_gist(rep)}"
            self.recorder.halted(self.failed)
        if call.when == "teardown" or rep.failed or (rep.skipped and call.when == "setup"):
            self._journal(item, rep)
        return rep

    def _attach(
        self, rep: pytest.TestReport, item: pytest.Item, step: int, commands: list[Any]
    ) -> None:
        """Commands into the report row of every phase (setup and teardown run some too)."""
        extras = list(getattr(rep, "extras", []))
        notes = self.recorder.take_notes()
        if notes:
            extras.append(html_extras.html(report.notes_html(notes)))
            rep.sections.append(("oneupgrade", "\n".join(notes)))
        if commands:
            extras.append(html_extras.html(report.commands_html(commands, f"{rep.when}: commands")))
        node = node_of(item)
        if rep.when == "call" and node is not None:
            others = [r for r in self.recorder.step_commands(step, node) if r.item != item.nodeid]
            if others:
                heading = f"commands of step {step} on {node} run by the step's other tests"
                extras.insert(0, html_extras.html(report.commands_html(others, heading)))
        rep.extras = extras  # type: ignore[attr-defined]

    def _journal(self, item: pytest.Item, rep: pytest.TestReport) -> None:
        outcome = "passed" if rep.passed else ("skipped" if rep.skipped else "failed")
        if rep.when != "teardown" and outcome == "passed":
            return
        sid = step_id(item)
        previous = self.journal.step(sid)
        if (
            previous
            and previous["outcome"] == "failed"
            and outcome == "passed"
            and (rep.when != "teardown")
        ):
            return
        reason = _gist(rep) if outcome != "passed" else ""
        self.journal.record_step(sid, outcome, self.run_id, self.started, rep.duration, reason)
        self.recorder.step_outcome(item.nodeid, outcome, reason, rep.duration)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.cluster.close()
        self.recorder.finish(exitstatus)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        tr.write_sep("=", "oneupgrade")
        if self.failed:
            tr.write_line(f"STOPPED: {self.failed}")
            tr.write_line(
                "After fixing the cause: pytest runbook/ --inventory "
                f"{self.inventory.path} --lf   (reruns only what has not passed)"
            )
        for line in self.recorder.summary_lines():
            tr.write_line(line)
        tr.write_line(f"journal: {self.journal.path}")
        tr.write_line(f"audit log: {self.recorder.path}")
        tr.write_line(f"report: {self.html_path}")


def _gist(rep: pytest.TestReport) -> str:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return report.one_line(str(rep.longrepr[2]))
    return report.one_line(rep.longreprtext)


def controller() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"

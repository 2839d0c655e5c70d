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
import os
import signal
import socket
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, Literal, NoReturn

import pytest
from pytest_dependency import DependencyManager
from pytest_html import extras as html_extras

from oneupgrade.audit import signature
from oneupgrade.audit.journal import Journal, JournalUnreadable
from oneupgrade.audit.recorder import Recorder
from oneupgrade.campaign import clusterjournal, runlock
from oneupgrade.campaign.clusterlock import ClusterLocked
from oneupgrade.campaign.keeper import ClusterCampaign
from oneupgrade.cluster import Cluster
from oneupgrade.errors import NodesFailed, RunbookError
from oneupgrade.inventory import (
    Host,
    Inventory,
    InventoryError,
    hypervisor_patterns,
    load_inventory,
)
from oneupgrade.opennebula import campaign
from oneupgrade.plugin import report
from oneupgrade.plugin.progress import Progress
from oneupgrade.plugin.summary import HtmlReport
from oneupgrade.result import CommandResult
from oneupgrade.transport.ssh import BecomePasswordMissing, Node, become_password
from oneupgrade.transport.sshconfig import resolve_route

inventory_key = pytest.StashKey[Inventory]()
become_key = pytest.StashKey[str | None]()  # the sudo password, in memory only
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
        "--new-campaign",
        action="store_true",
        help="set an unreadable journal aside and start a new campaign (its facts are lost)",
    )
    group.addoption(
        "--break-lock",
        metavar="RUN",
        default=None,
        help="end the session of run RUN that holds the cluster lock (its controller gone, "
        "its connection lingering) and take the lock over; the holder is shown first",
    )
    group.addoption(
        "--campaign-from",
        choices=clusterjournal.CHOICES,
        default=None,
        help="when this controller's journal and the cluster's copy are two unordered "
        "campaigns: take the cluster's (this one kept aside) or write this one over it",
    )
    group.addoption(
        "--hypervisors",
        metavar="NAMES",
        default=None,
        help="step 9 only on these hypervisors (comma-separated names or shell patterns)",
    )
    group.addoption(
        "--overlap-followers",
        action="store_true",
        help="upgrade the followers' packages during the leader's database work (a shorter "
        "outage; but if the leader's upgrade fails, the followers are upgraded too and "
        "need rolling back with the leader: pytest rollback/)",
    )
    group.addoption(
        "--accept-loss-since",
        metavar="TIME",
        default=None,
        help="rollback/: accept losing every database change since the pre-upgrade dump "
        "taken at TIME (UTC, as the rollback's preflight states it)",
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
    config.addinivalue_line(
        "markers", "rollback: a step of rollback/ (Restoring the Previous Version)"
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
    for option in ("vm_timeout", "health_timeout"):
        if not config.getoption(option) > 0:  # (also refuses nan)
            name = "--" + option.replace("_", "-")
            raise pytest.UsageError(f"{name} must be a number of seconds greater than 0")
    config.stash[inventory_key] = inventory
    if config.getoption("hypervisors") is not None:
        try:
            hypervisor_patterns(inventory, config.getoption("hypervisors"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[become_key] = _become_password(config, inventory)
    # In runbook mode --lf means "resume the campaign" and the journal decides what
    # reruns; pytest's own last-failed cache would drop the steps that were skipped
    # because of the failure (reference peers.md §1).
    resume = bool(config.getoption("lf", False))
    if resume:
        config.option.lf = False
        lfplugin = config.pluginmanager.get_plugin("lfplugin")
        if lfplugin is not None:
            lfplugin.active = False
    try:
        runbook = RunbookSession(config, inventory, resume=resume)
    except (runlock.RunLocked, JournalUnreadable) as exc:
        raise pytest.UsageError(str(exc)) from None
    except OSError as exc:  # the report directory: not creatable, not writable
        where = exc.filename or config.getoption("report_dir") or "reports/"
        raise pytest.UsageError(
            f"cannot write the reports under {where}: {exc.strerror or exc}; "
            "give a writable --report-dir"
        ) from None
    config.stash[session_key] = runbook
    config.pluginmanager.register(runbook, "oneupgrade-runbook")
    if config.pluginmanager.hasplugin("html"):
        # Title, Environment, Node and Reason columns, summary (oneupgrade/summary.py).
        config.pluginmanager.register(HtmlReport(runbook, node_of), "oneupgrade-report")


def _become_password(config: pytest.Config, inventory: Inventory) -> str | None:
    """The sudo password from its variable, else asked once on the terminal (no echo)."""
    name = inventory.ssh.become_password_env
    if inventory.ssh.become != "sudo" or not name or os.environ.get(name):
        return become_password(inventory.ssh)
    # pytest holds fd 0 (as /dev/null) even now: give the real stdin back while asking,
    # then put capturing back as it was (output suspended, input captured).
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=True)
    try:
        return become_password(inventory.ssh, interactive=os.isatty(0))
    except BecomePasswordMissing as exc:
        raise pytest.UsageError(str(exc)) from None
    finally:
        if capman is not None:
            capman.resume_global_capture()
            capman.suspend_global_capture()


def pytest_unconfigure(config: pytest.Config) -> None:
    runbook = config.stash.get(session_key, None)
    if runbook is not None:
        runbook.restore_signals()
        runbook.lock.close()
        config.pluginmanager.unregister(runbook)
    html_report = config.pluginmanager.get_plugin("oneupgrade-report")
    if html_report is not None:
        config.pluginmanager.unregister(html_report)
    progress = config.pluginmanager.get_plugin("oneupgrade-progress")
    if progress is not None:
        config.pluginmanager.unregister(progress)


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

    def __init__(self, config: pytest.Config, inventory: Inventory, resume: bool = False) -> None:
        self.config = config
        self.inventory = inventory
        self.resume = resume
        # step id -> run id: the steps an earlier run of the campaign passed (--lf)
        self.satisfied: dict[str, str] = {}
        self.resume_note = ""
        self._worst: dict[str, str] = {}
        # The phase the current item is in, and since when (None between items); the item
        # a Ctrl-C stopped, reported by pytest_keyboard_interrupt.
        self._phase: tuple[Literal["setup", "call", "teardown"], float] | None = None
        self._interrupted: pytest.Item | None = None
        # What interrupted the run: Ctrl-C, or a signal handled as one (see stop_on_signals).
        self.stopped_by = "Ctrl-C"
        self._signals: dict[int, Any] = {}
        self.started = time.time()
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started))
        base = config.getoption("report_dir") or str(Path(config.rootpath) / "reports")
        self.report_dir = Path(base) / inventory.cluster
        self.report_dir.mkdir(parents=True, exist_ok=True)
        # the reports name nodes, commands and backups: the operator's alone
        self.report_dir.chmod(0o700)
        # before anything is claimed or read: a refused run leaves no trace
        self.lock = runlock.acquire(self.report_dir, inventory.cluster, self.run_id)
        self.dry_run: bool = config.getoption("dry_run")
        # before the report files: a journal that cannot be read refuses the run
        self.journal = Journal.load(
            self.report_dir / "journal.json",
            new_campaign=config.getoption("new_campaign"),
            dry_run=self.dry_run,
        )
        self.journal.persist = not self.dry_run
        suffix = "-dry-run" if self.dry_run else ""
        own_html = not config.getoption("htmlpath", None)
        # A name no earlier run used (a run in the same second gets -2): never overwritten.
        stem = report.allocate_stem(
            self.report_dir,
            f"{self.run_id}{suffix}",
            (".html", ".jsonl") if own_html else (".jsonl",),
        )
        self.run_id = stem.replace("-dry-run", "")
        if own_html:
            config.option.htmlpath = str(self.report_dir / f"{stem}.html")
            config.option.self_contained_html = True
        self.html_path = Path(config.option.htmlpath)
        self.recorder = Recorder(
            self.report_dir / f"{stem}.jsonl",
            self.run_id,
            inventory,
            config.stash.get(become_key, None),
        )
        if self.journal.set_aside is not None:
            self.recorder.event("journal-set-aside", path=str(self.journal.set_aside))
        selection = config.getoption("hypervisors")
        self.cluster = Cluster(
            inventory=inventory,
            nodes={},
            journal=self.journal,
            run_id=self.run_id,
            forks=config.getoption("forks"),
            overlap_followers=config.getoption("overlap_followers"),
            dry_run=self.dry_run,
            vm_timeout=config.getoption("vm_timeout"),
            health_timeout=config.getoption("health_timeout"),
            hypervisor_selection=hypervisor_patterns(inventory, selection) if selection else None,
            accept_loss_since=config.getoption("accept_loss_since"),
        )
        for host in inventory.nodes:
            self.cluster.nodes[host.name] = self._node(host)
        self.cluster.node_factory = self._node
        if inventory.discover_hypervisors:
            # a resumed run may skip preflight: the hypervisors it read are in the journal
            self.cluster.add_discovered(self.journal.fact("discovered_hypervisors") or [])
        self.cluster.on_note = self.recorder.note
        self.cluster.on_secret = self.recorder.redactor.add_secret
        # the campaign's lock and journal on the front-ends (clustercampaign.py)
        self.on_cluster = ClusterCampaign(
            self.cluster,
            self.journal,
            self.run_id,
            dry_run=self.dry_run,
            campaign_from=config.getoption("campaign_from"),
            carry=lambda: self.recorder.attributed((None, None, "cluster campaign")),
        )
        self._journal_step: int | None = None  # the step whose journal the cluster has
        self.refused: str | None = None  # why the cluster lock refused this run
        # written only once the run holds the cluster lock (Journal.deferred)
        self.journal.deferred = not self.dry_run
        self.break_lock: str | None = config.getoption("break_lock")
        self.cluster.attribution = lambda: self.recorder.attributed(self.recorder.context())
        self.progress = Progress(config, self._running)  # live fan-out progress
        config.pluginmanager.register(self.progress, "oneupgrade-progress")
        self.cluster.on_progress = self.progress.event
        self.failed: str | None = None
        self.current: pytest.Item | None = None
        self.signed: signature.Signed | None = None  # at the end
        # for the report's timeline: each step's name and the nodes it failed on
        self.step_names: dict[int, str] = {}
        self.failed_nodes: dict[int, set[str]] = {}
        self.plan_match: Path | None = None  # the signed dry run whose plan this run ran

    def _running(self, name: str) -> tuple[str, float] | None:
        """The command `name` runs now and since when, for the live status line."""
        node = self.cluster.nodes.get(name)
        command = node.running if node is not None else None
        if node is None or not command:
            return None
        return self.recorder.redactor.redact(command), node.running_since

    def _node(self, host: Host) -> Node:
        return Node(
            host,
            self.inventory.ssh,
            self._observe,
            self.dry_run,
            self.recorder.become_password,
            halt=self.cluster.halt,
        )

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
        kinds = {
            "rollback" if i.get_closest_marker("rollback") else "upgrade"
            for i, s in zip(items, steps, strict=True)
            if s is not None
        }
        if len(kinds) > 1:
            raise pytest.UsageError("runbook/ and rollback/ run one at a time: give one of them")
        self.cluster.procedure = kinds.pop() if kinds else "upgrade"
        # a rollback refused in its preflight changed nothing: the upgrade stays current
        if self.journal.give_way(unless=self.cluster.procedure):
            self.recorder.event("campaign-given-way", procedure=self.cluster.procedure)
        if self.resume:
            self._select_for_resume(config, items)

    def _select_for_resume(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """--lf: deselect what passed in this campaign; it counts as satisfied."""
        if not campaign.in_progress(self.cluster):
            self.resume_note = "no unfinished campaign in the journal: every step runs"
            return
        passed = self.journal.passed_steps()
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (drop if step_of(item) is not None and step_id(item) in passed else keep).append(item)
        for item in drop:
            self.satisfied[step_id(item)] = passed[step_id(item)]
            _satisfy_dependency(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        runs = sorted(set(self.satisfied.values()))
        campaign_id = (self.journal.campaign or {}).get("id", "?")
        self.resume_note = (
            f"resuming campaign {campaign_id}: {len(drop)} step(s) satisfied by "
            f"earlier run(s) {', '.join(runs) or '-'}; {len(keep)} to run"
        )
        self.recorder.event("resume", satisfied=self.satisfied)

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        if not self.resume:
            return []
        lines = [self.resume_note]
        if config.getoption("verbose") > 0:
            lines += [f"  satisfied by run {run}: {sid}" for sid, run in self.satisfied.items()]
        return lines

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        inv = self.inventory
        mode = " (DRY RUN: nothing will be changed)" if self.dry_run else ""
        lines = [
            f"oneupgrade: cluster {inv.cluster}, zone {inv.zone}, target {inv.target}{mode}",
            f"inventory: {inv.path} (sha256 {inv.sha256[:16]}...), "
            f"{len(inv.frontends)} front-end(s), {len(inv.hypervisors)} hypervisor(s)",
            f"report: {self.html_path}",
        ]
        if self.journal.set_aside is not None:
            lines.append(
                f"journal: the unreadable journal was set aside as {self.journal.set_aside} "
                "(--new-campaign): a new campaign begins"
            )
        return lines

    # -- running ---------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item
        self._phase = ("setup", time.time())
        step = step_of(item)
        self.recorder.begin(item.nodeid, step[0] if step else None, item.name)
        if self.failed is not None and step_of(item) is not None:
            pytest.skip(f"not run: {self.failed}")
        if step is not None and step[0] != self._journal_step:
            # a step's end: the journal's copies on the front-ends (clusterjournal.py)
            self.on_cluster.after_step()
            self._journal_step = step[0]
        if step is not None and step[0] > 0 and self.failed is None and not self.dry_run:
            self._hold_the_cluster()
        if step is not None and not self.dry_run:
            # A run killed inside this step leaves it "running": not passed, so --lf redoes it.
            self.journal.record_step(step_id(item), "running", self.run_id, time.time(), 0.0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self._phase = ("call", time.time())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._phase = ("teardown", time.time())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        rep = yield
        step = step_of(item)
        if step is None:
            return rep
        self.step_names[step[0]] = step[1]
        if rep.failed and call.excinfo is not None and call.excinfo.errisinstance(RunbookError):
            # Our errors are written for the operator: their text, not a traceback.
            rep.longrepr = str(call.excinfo.value)
        # Before anything reads it: a CommandFailed's text carries stdout and stderr.
        report.redact_test_report(rep, self.recorder.redactor.redact)
        commands = self.recorder.take_phase()
        self._attach(rep, item, step[0], commands)
        if rep.failed:
            failing = _failing_nodes(call, node_of(item), commands)
            self.failed_nodes.setdefault(step[0], set()).update(failing)
        if rep.failed and self.failed is None:
            where = f" on {node_of(item)}" if node_of(item) else ""
            self.failed = f"step {step[0]} '{step[1]}' failed{where} ({item.name}): {_gist(rep)}"
            self.recorder.halted(self.failed)
        if call.when == "teardown":
            self._phase = None  # the item's reports are all made
        if item is self._interrupted:
            return rep  # journaled by pytest_keyboard_interrupt
        if call.when == "teardown" or rep.failed or (rep.skipped and call.when == "setup"):
            self._journal(item, rep)
        if rep.failed:
            self.on_cluster.after_step()  # the cluster's copy knows the failure at once
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
        """The step's outcome: the worst of its phases, saved at once when not passed."""
        sid = step_id(item)
        outcome = "passed" if rep.passed else ("skipped" if rep.skipped else "failed")
        rank = {"passed": 0, "skipped": 1, "failed": 2}
        worst = self._worst.get(sid, "passed")
        if rank[outcome] > rank[worst]:
            worst = self._worst[sid] = outcome
        if rep.when != "teardown" and outcome == "passed":
            return
        reason = _gist(rep) if outcome != "passed" else ""
        if self.dry_run:
            return
        self.journal.record_step(sid, worst, self.run_id, self.started, rep.duration, reason)
        if rep.when == "teardown" or outcome != "passed":
            self.recorder.step_outcome(item.nodeid, worst, reason, rep.duration)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.stop_on_signals()
        # Before --lf reads the journal: the cluster may hold a newer one (another
        # controller's run), or two campaigns that must not be mixed.
        if session.config.option.collectonly:
            return
        try:
            note = self.on_cluster.reconcile()
        except clusterjournal.CampaignConflict as exc:
            raise pytest.UsageError(str(exc)) from None
        if note:
            self.recorder.event("journal-from-cluster", note=note)
            self._tell(note)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self.on_cluster.finish()  # the journal's last copy; the lock released

    def _hold_the_cluster(self) -> None:
        """The cluster lock, before the first step after preflight (which changes
        nothing and names unreachable nodes best): a dry run or preflight alone never
        takes it, so read-only runs are never blocked and never block. Refused: the run
        stops here (exit 4) and writes no journal (see Journal.deferred)."""
        if self.on_cluster.locked:
            try:
                self.on_cluster.ensure()
            except ClusterLocked as exc:
                self._refuse(f"the cluster lock was lost: {exc}", 1)
            return
        try:
            shown = self.on_cluster.lock(self.break_lock)
        except ClusterLocked as exc:
            self._refuse(str(exc), 4)
        for line in shown:
            self.recorder.event("cluster-lock", note=line)
            if not line.startswith("cluster lock held"):
                self._tell(line)  # a broken lock: shown as it is done

    def _refuse(self, reason: str, code: int) -> NoReturn:
        self.refused = reason
        self.current = None  # no step of ours was under way: nothing to mark interrupted
        self.recorder.event("cluster-locked", reason=reason)
        self.recorder.halted(f"refused: {reason}")
        pytest.exit(f"refused: {reason}", returncode=code)

    def stop_on_signals(self) -> None:
        """SIGTERM (a service manager, `kill`) and SIGHUP (the operator's terminal or SSH
        session gone) stop the run as Ctrl-C does: no command starts, the ones running
        are waited for, the journal, the report and the audit log are written. Python's
        default would end the process at once, mid-step."""
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, frame: object) -> None:
            if signum != signal.SIGINT:
                self.stopped_by = signal.Signals(signum).name
            # At once, in the handler: pytest reaches its keyboard-interrupt hook only
            # after unwinding, and the nodes' threads must not start a command meanwhile.
            self.cluster.halt.set()
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._signals[signum] = signal.signal(signum, stop)

    def restore_signals(self) -> None:
        for signum, handler in self._signals.items():
            signal.signal(signum, handler)
        self._signals.clear()

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.refused is not None:
            return  # refused before any change (the cluster lock): nothing to stop
        running = self.cluster.interrupt()
        item = self.current
        if item is not None and step_of(item) is None:
            item = None  # not a step of the runbook
        if item is not None:
            # The journal first: the wait below may be long, and a SIGKILL may end it.
            sid = step_id(item)
            entry = self.journal.step(sid)
            if not self.dry_run and entry is not None and entry["outcome"] == "running":
                self.journal.record_step(
                    sid,
                    "interrupted",
                    self.run_id,
                    entry["started"],
                    time.time() - entry["started"],
                    f"interrupted ({self.stopped_by})",
                )
            self.failed = self.failed or f"interrupted ({self.stopped_by}) during {item.name}"
            self.recorder.halted(f"interrupted ({self.stopped_by}) during {item.nodeid}")
        if running:
            redact = self.recorder.redactor.redact
            self.recorder.event("interrupted", running={n: redact(c) for n, c in running.items()})
            lines = [f"  {node}$ {report.one_line(redact(cmd))}" for node, cmd in running.items()]
            self._tell(
                f"INTERRUPTED ({self.stopped_by}): no further command will start. "
                f"Waiting for the {len(running)} command(s) still running (they run to "
                "their end on the nodes anyway; their outcome goes to the audit log); "
                "Ctrl-C again to stop waiting:\n" + "\n".join(lines)
            )
            self.cluster.settle()
        if item is not None and self._phase is not None:
            self._report_interrupted(item, *self._phase)

    def _tell(self, text: str) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        try:
            if terminal is None:
                return
            if capman is None:
                terminal.write_line(text)
                return
            with capman.global_and_fixture_disabled():  # also while a test's output is captured
                terminal.write_line(text)
        except OSError:
            pass  # the terminal is gone (SIGHUP): the audit log has it

    def _report_interrupted(
        self, item: pytest.Item, when: Literal["setup", "call", "teardown"], since: float
    ) -> None:
        """pytest makes no report for a test stopped half way: this one's row in the
        HTML report, with the commands it ran before the interrupt."""
        self._interrupted = item

        def interrupted() -> None:
            raise RunbookError(
                f"interrupted ({self.stopped_by}) during its {when}: the commands it ran "
                "are below; --lf runs the step again"
            )

        call = pytest.CallInfo.from_call(interrupted, when=when)
        rep: pytest.TestReport = item.ihook.pytest_runtest_makereport(item=item, call=call)
        rep.duration = time.time() - since
        item.ihook.pytest_runtest_logreport(report=rep)
        if when != "teardown":  # pytest-html writes a test's row at its teardown report
            done = pytest.CallInfo.from_call(lambda: None, when="teardown")
            end = item.ihook.pytest_runtest_makereport(item=item, call=done)
            item.ihook.pytest_runtest_logreport(report=end)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.cluster.close()
        # Speed: one connection per node for the whole run (a reconnect shows up here).
        nodes = self.cluster.nodes.values()
        self.recorder.event(
            "connections",
            opened=sum(n.connections_opened for n in nodes),
            nodes=len(self.cluster.nodes),
            per_node={n.name: n.connections_opened for n in nodes if n.connections_opened != 1},
        )
        self.recorder.finish(exitstatus)
        self.signed = self._sign_head()

    def _sign_head(self) -> signature.Signed:
        """The audit log's head (final now: no record follows) signed with the key SSH
        offers the first node; see oneupgrade.audit.signature."""
        log = self.recorder.path
        statement = signature.Statement(
            log=log.name,
            run=self.run_id,
            cluster=self.inventory.cluster,
            kind="dry-run" if self.dry_run else "run",
            records=self.recorder.audit.records,
            head=self.recorder.audit.head,
            plan=signature.plan_digest(signature.read_records(log)),
            operator=f"{getpass.getuser()}@{socket.gethostname()}",
        )
        try:
            hop = self.cluster.nodes[self.inventory.nodes[0].name].route.target
        except (RunbookError, KeyError):  # an unusable ssh config: OpenSSH's defaults
            hop = resolve_route(self.inventory.nodes[0], self.inventory.ssh, None).target
        signed = signature.sign_head(log, statement, hop)
        if not self.dry_run and signed.signature is not None:
            self.plan_match = signature.matching_plan(self.report_dir, statement.plan, self.run_id)
        return signed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        tr.write_sep("=", "oneupgrade")
        if self.failed:
            tr.write_line(f"STOPPED: {self.failed}")
            where = "rollback/" if self.cluster.procedure == "rollback" else "runbook/"
            tr.write_line(
                f"After fixing the cause: pytest {where} --inventory "
                f"{self.inventory.path} --lf   (reruns only what has not passed)"
            )
        for line in self.recorder.summary_lines():
            tr.write_line(line)
        tr.write_line(f"journal: {self.journal.path}")
        tr.write_line(f"audit log: {self.recorder.path}")
        tr.write_line(f"report: {self.html_path}")


def _failing_nodes(call: pytest.CallInfo[None], node: str | None, commands: list[Any]) -> set[str]:
    """The nodes a failed phase failed on: those its error names, else the item's node,
    else the node of the last command it ran."""
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, NodesFailed):
        return set(error.failures)
    named = getattr(error, "node", None) or getattr(getattr(error, "result", None), "node", None)
    if isinstance(named, str):
        return {named}
    if node:
        return {node}
    return {commands[-1].node} if commands else set()


class _Passed:
    """A phase report as pytest-dependency reads it (`when`, `outcome`)."""

    def __init__(self, when: str) -> None:
        self.when = when
        self.outcome = "passed"


def _satisfy_dependency(item: pytest.Item) -> None:
    """Register a step that passed in an earlier run as passed in this session.

    pytest-dependency keeps results in memory only: without this, a rerun step
    whose dependencies were deselected would be skipped as "unknown".
    """
    marker = item.get_closest_marker("dependency")
    if marker is None:
        return
    name = marker.kwargs.get("name")
    manager = DependencyManager.getManager(item, scope="session")
    if manager is not None:
        for when in ("setup", "call", "teardown"):
            manager.addResult(item, name, _Passed(when))


def _gist(rep: pytest.TestReport) -> str:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return report.one_line(str(rep.longrepr[2]))
    return report.one_line(rep.longreprtext)


def controller() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"

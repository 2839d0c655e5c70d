"""What one runbook run holds, set up from the options: the report directory and its
run lock, the journal, the audit recorder, the cluster and its campaign keeper, the
live progress.

The hook groups (selection.py, steps.py, interrupts.py, closing.py) subclass
`RunbookState`, and the HTML report (html_report.py) reads it: the session
(session.py) is all of them in one plugin object.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import pytest

from oneupgrade.audit import signature
from oneupgrade.audit.journal import Journal
from oneupgrade.audit.recorder import Recorder
from oneupgrade.campaign import runlock
from oneupgrade.campaign.keeper import ClusterCampaign
from oneupgrade.cluster import Cluster
from oneupgrade.errors import RunbookError
from oneupgrade.inventory.model import Host, Inventory, hypervisor_patterns
from oneupgrade.plugin import report
from oneupgrade.plugin.options import become_key
from oneupgrade.plugin.progress import Progress
from oneupgrade.result import CommandResult
from oneupgrade.transport.node import Node


class RunbookState:
    """The state of one runbook run (made only with --inventory)."""

    def __init__(self, config: pytest.Config, inventory: Inventory, resume: bool = False) -> None:
        self.config = config
        self.inventory = inventory
        self.resume = resume
        self._bookkeeping()
        self.started = time.time()
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started))
        self.report_dir = _report_dir(config, inventory)
        self.backup_dir = _backup_dir(config, self.report_dir)
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
        self.journal.backup_dir = self.backup_dir
        self.recorder = self._open_reports()
        self.cluster = self._open_cluster()
        self._keep_the_campaign()
        self.progress = Progress(config, self._running)  # live fan-out progress
        config.pluginmanager.register(self.progress, "oneupgrade-progress")
        self.cluster.on_progress = self.progress.event

    def _bookkeeping(self) -> None:
        """What the run learns as it goes, empty at its start."""
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
        self._journal_step: int | None = None  # the step whose journal the cluster has
        self.refused: str | None = None  # why the cluster lock refused this run
        self.failed: str | None = None
        self.current: pytest.Item | None = None
        self.signed: signature.Signed | None = None  # at the end
        # for the report's timeline: each step's name and the nodes it failed on
        self.step_names: dict[int, str] = {}
        self.failed_nodes: dict[int, set[str]] = {}
        self.plan_match: Path | None = None  # the signed dry run whose plan this run ran

    def _open_reports(self) -> Recorder:
        """The run's HTML report and audit log, under names no earlier run used."""
        config = self.config
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
        recorder = Recorder(
            self.report_dir / f"{stem}.jsonl",
            self.run_id,
            self.inventory,
            config.stash.get(become_key, None),
        )
        if self.journal.set_aside is not None:
            recorder.event("journal-set-aside", path=str(self.journal.set_aside))
        return recorder

    def _open_cluster(self) -> Cluster:
        """The cluster of the inventory, its nodes recording every command."""
        config, inventory = self.config, self.inventory
        selection = config.getoption("hypervisors")
        cluster = self.cluster = Cluster(
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
            cluster.nodes[host.name] = self._node(host)
        cluster.node_factory = self._node
        if inventory.discover_hypervisors:
            # a resumed run may skip preflight: the hypervisors it read are in the journal
            cluster.add_discovered(self.journal.fact("discovered_hypervisors") or [])
        cluster.on_note = self.recorder.note
        cluster.on_secret = self.recorder.redactor.add_secret
        return cluster

    def _keep_the_campaign(self) -> None:
        """The campaign's lock and journal on the front-ends (clustercampaign.py)."""
        self.on_cluster = ClusterCampaign(
            self.cluster,
            self.journal,
            self.run_id,
            dry_run=self.dry_run,
            campaign_from=self.config.getoption("campaign_from"),
            carry=lambda: self.recorder.attributed((None, None, "cluster campaign")),
        )
        # written only once the run holds the cluster lock (Journal.deferred)
        self.journal.deferred = not self.dry_run
        self.break_lock: str | None = self.config.getoption("break_lock")
        self.cluster.attribution = lambda: self.recorder.attributed(self.recorder.context())

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


class BackupDirRefused(RunbookError):
    """--backup-dir names a place the backups must not go."""


def _backup_dir(config: pytest.Config, report_dir: Path) -> Path:
    """--backup-dir, or reports/<cluster>.backups: never inside the report directory,
    which the operator hands on (the dumps and /etc/one hold the database password)."""
    given = config.getoption("backup_dir")
    where = Path(given).expanduser().resolve() if given else None
    if where is None:
        return report_dir.with_name(f"{report_dir.name}.backups")
    if where == report_dir.resolve() or report_dir.resolve() in where.parents:
        raise BackupDirRefused(
            f"--backup-dir {given} is inside the report directory {report_dir}, which must "
            "hold no secret (the backups carry the database password): give a directory "
            "outside it"
        )
    if where.exists() and not where.is_dir():
        raise BackupDirRefused(f"--backup-dir {given} is not a directory: give a directory")
    return where


def _report_dir(config: pytest.Config, inventory: Inventory) -> Path:
    """reports/<cluster>/ (or under --report-dir), made and kept to the operator."""
    base = config.getoption("report_dir") or str(Path(config.rootpath) / "reports")
    report_dir = Path(base) / inventory.cluster
    report_dir.mkdir(parents=True, exist_ok=True)
    # the reports name nodes, commands and backups: the operator's alone
    report_dir.chmod(0o700)
    return report_dir

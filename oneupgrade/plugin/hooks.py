"""The pytest plugin: turns `runbook/` into an upgrade of the cluster in `--inventory`.

Nothing runs unless switched on: without `--inventory` a runbook step refuses to be
collected (a usage error), and the project's own tests run as usual. With it, the
`RunbookSession` (session.py) is registered: it loads the inventory and the journal,
builds the `cluster` fixture, records every command for the audit log and the HTML
report, stops the run at the first failed step (the rest are skipped, naming it),
and with `--lf` runs only what has not passed in the current campaign.

This module is the one to register (the checkout's conftest.py does); it brings the
fixtures (fixtures.py) with it. No other module may import a plugin module: pytest
must see it first, to rewrite its asserts.
"""

from __future__ import annotations

import pytest

from oneupgrade.audit.journal import JournalUnreadable
from oneupgrade.campaign import runlock
from oneupgrade.inventory.model import Inventory
from oneupgrade.plugin.html_report import HtmlReport
from oneupgrade.plugin.options import (
    OPTIONS,
    become_key,
    become_password_of,
    inventory_key,
    read_inventory,
)
from oneupgrade.plugin.session import RunbookSession, session_key
from oneupgrade.plugin.state import BackupDirRefused

pytest_plugins = ["oneupgrade.plugin.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oneupgrade", "OpenNebula HA upgrade runbook")
    for flag, settings in OPTIONS:
        group.addoption(flag, **settings)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "step(number, title): the OpenNebula doc step a runbook module carries out"
    )
    config.addinivalue_line(
        "markers", "rollback: a step of rollback/ (Restoring the Previous Version)"
    )
    inventory = read_inventory(config)
    if inventory is None:
        return
    config.stash[inventory_key] = inventory
    config.stash[become_key] = become_password_of(config, inventory)
    runbook = _start(config, inventory, resume=_take_over_lf(config))
    config.stash[session_key] = runbook
    config.pluginmanager.register(runbook, "oneupgrade-runbook")
    if config.pluginmanager.hasplugin("html"):
        # Title, Environment, Node and Reason columns, summary (html_report.py).
        config.pluginmanager.register(HtmlReport(runbook), "oneupgrade-report")


def _take_over_lf(config: pytest.Config) -> bool:
    """Whether --lf was given, taken away from pytest's own last-failed plugin."""
    # In runbook mode --lf means "resume the campaign" and the journal decides what
    # reruns; pytest's own last-failed cache would drop the steps that were skipped
    # because of the failure (reference peers.md §1).
    resume = bool(config.getoption("lf", False))
    if resume:
        config.option.lf = False
        lfplugin = config.pluginmanager.get_plugin("lfplugin")
        if lfplugin is not None:
            lfplugin.active = False
    return resume


def _start(config: pytest.Config, inventory: Inventory, resume: bool) -> RunbookSession:
    """The session of this run; what refuses it is a usage error."""
    try:
        return RunbookSession(config, inventory, resume=resume)
    except (runlock.RunLocked, JournalUnreadable, BackupDirRefused) as exc:
        raise pytest.UsageError(str(exc)) from None
    except OSError as exc:  # the report directory: not creatable, not writable
        where = exc.filename or config.getoption("report_dir") or "reports/"
        raise pytest.UsageError(
            f"cannot write the reports under {where}: {exc.strerror or exc}; "
            "give a writable --report-dir"
        ) from None


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

"""The plugin's command-line options, and reading them at configure time.

`OPTIONS` is the table `pytest --help` shows under "OpenNebula HA upgrade runbook"
(hooks.py adds it); `read_inventory` turns them into the inventory of the run (or a
usage error), and `become_password_of` finds the sudo password the inventory asks for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from oneupgrade.campaign import clusterjournal
from oneupgrade.inventory.document import InventoryError
from oneupgrade.inventory.load import load_inventory
from oneupgrade.inventory.model import Inventory, hypervisor_patterns
from oneupgrade.transport.sudo import BecomePasswordMissing, become_password

inventory_key = pytest.StashKey[Inventory]()
become_key = pytest.StashKey[str | None]()  # the sudo password, in memory only

# Each option: its flag and what argparse is given for it, in the order --help lists them.
OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--inventory",
        dict(
            metavar="PATH",
            help="inventory of the cluster to upgrade; required to run runbook/ (native or "
            "one-deploy)",
        ),
    ),
    (
        "--target",
        dict(metavar="RELEASE", help="target series or release (overrides the inventory)"),
    ),
    (
        "--forks",
        dict(type=int, default=10, metavar="N", help="nodes worked on at once (default 10)"),
    ),
    (
        "--report-dir",
        dict(
            metavar="DIR", default=None, help="where reports/<cluster>/ goes (default: ./reports)"
        ),
    ),
    (
        "--backup-dir",
        dict(
            metavar="DIR",
            default=None,
            help="where the controller keeps its copies of the front-ends' backups, apart "
            "from the reports (default: reports/<cluster>.backups, beside the report directory)",
        ),
    ),
    (
        "--dry-run",
        dict(
            action="store_true",
            help="run preflight and read-only probes; list every mutating command, run none",
        ),
    ),
    (
        "--new-campaign",
        dict(
            action="store_true",
            help="set an unreadable journal aside and start a new campaign (its facts are lost)",
        ),
    ),
    (
        "--break-lock",
        dict(
            metavar="RUN",
            default=None,
            help="end the session of run RUN that holds the cluster lock (its controller gone, "
            "its connection lingering) and take the lock over; the holder is shown first",
        ),
    ),
    (
        "--campaign-from",
        dict(
            choices=clusterjournal.CHOICES,
            default=None,
            help="when this controller's journal and the cluster's copy are two unordered "
            "campaigns: take the cluster's (this one kept aside) or write this one over it",
        ),
    ),
    (
        "--hypervisors",
        dict(
            metavar="NAMES",
            default=None,
            help="step 9 only on these hypervisors (comma-separated names or shell patterns)",
        ),
    ),
    (
        "--overlap-followers",
        dict(
            action="store_true",
            help="upgrade the followers' packages during the leader's database work (a shorter "
            "outage; but if the leader's upgrade fails, the followers are upgraded too and "
            "need rolling back with the leader: pytest rollback/)",
        ),
    ),
    (
        "--accept-loss-since",
        dict(
            metavar="TIME",
            default=None,
            help="rollback/: accept losing every database change since the pre-upgrade dump "
            "taken at TIME (UTC, as the rollback's preflight states it)",
        ),
    ),
    (
        "--vm-timeout",
        dict(
            type=float,
            default=900.0,
            metavar="S",
            help="step 1: how long to wait for VMs in transient states (default 900 s)",
        ),
    ),
    (
        "--health-timeout",
        dict(
            type=float,
            default=300.0,
            metavar="S",
            help="step 8: how long to wait for a healthy zone (default 300 s)",
        ),
    ),
)


def read_inventory(config: pytest.Config) -> Inventory | None:
    """The inventory of `--inventory` with every option checked against it; None
    without `--inventory` (no runbook run). Anything wrong is a usage error."""
    path = config.getoption("inventory")
    if path is None:
        return None
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
    if config.getoption("hypervisors") is not None:
        try:
            hypervisor_patterns(inventory, config.getoption("hypervisors"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    return inventory


def become_password_of(config: pytest.Config, inventory: Inventory) -> str | None:
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

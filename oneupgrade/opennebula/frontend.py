"""Steps 4 to 9 of "Upgrading Single Front-end" on one front-end, and the DB replication.

The HA guide runs these steps on the leader (its step 4) and on every follower (its
step 5). Each sub-step looks at the node first and acts only when its work is not
done yet, so a rerun after a failure picks up where the node is. The backups of step
4 are in backups.py, the packages of steps 5 and 6 in package_upgrade.py, the
database of steps 8 and 9 in database_upgrade.py; step 7 is here.
"""

from __future__ import annotations

from collections.abc import Callable

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.opennebula import (
    backups,
    config,
    database_upgrade,
    onecfg,
    package_jobs,
    package_upgrade,
    system,
)
from oneupgrade.opennebula.backups import ONEDB_TIMEOUT
from oneupgrade.opennebula.package_upgrade import PACKAGE_TIMEOUT, pinned
from oneupgrade.transport.node import Node

REPLACED = "database: skipped: replaced by the leader's database in step 6"


def back_up_frontend(node: Node, journal: Journal, target: str) -> list[str]:
    """Step 4 of "Upgrading Single Front-end" alone, where the node is not at the target
    yet: its configuration and database backed up; returns what was done."""
    installed = system.installed_packages(node, system.platform(node).family)
    if "opennebula" not in installed or system.at_target(installed["opennebula"], target):
        return []  # (upgrade_frontend says why, or has nothing to do)
    return backups.back_up(node, journal)


def upgrade_frontend(
    node: Node,
    journal: Journal,
    target: str,
    vip: str | None,
    *,
    migrate: bool = True,
    backed_up: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> list[str]:
    """Steps 4 to 9 of "Upgrading Single Front-end" on `node`; returns what was done.

    `migrate`: False on a follower, whose database step 6 of the HA guide replaces
    with the leader's upgraded one: `onedb upgrade` and `onedb fsck` there would only
    lengthen the outage (its pre-upgrade dump is still taken).
    `backed_up`: step 4 (`back_up_frontend`) is done already in this run.
    `meanwhile`: called once step 4 is done (or not needed), before anything changes."""
    plat = system.platform(node)
    # an earlier run's package job finished, an interrupted dpkg repaired, before reading
    done: list[str] = package_jobs.settle(node, plat)
    installed = system.installed_packages(node, plat.family)
    if "opennebula" not in installed:
        raise PreconditionFailed(f"{node}: package opennebula is not installed")
    behind = not system.at_target(installed["opennebula"], target)
    if behind and not backed_up:
        # Step 4: back up the configuration and the database before anything changes.
        done += backups.back_up(node, journal)
    if meanwhile is not None:
        meanwhile()
    if behind:
        # Step 5: the repository of the target series.
        done += package_upgrade.upgrade_the_repository(node, journal, plat, target)
        # Step 6: upgrade, keeping the modified configuration files.
        migrators = package_upgrade.migrators_to_install(node, plat, installed, target)
        done += package_upgrade.upgrade_opennebula_packages(
            node, plat, installed, target, migrators
        )
    else:  # a rerun after the upgrade: the migrators may still be missing
        migrators = package_upgrade.migrators_to_install(node, plat, installed, target)
        system.install_packages(node, plat, pinned(migrators, plat, target), PACKAGE_TIMEOUT)
        done += [f"installed {name}" for name in migrators]
    done += update_configuration(node, vip)
    if not migrate:
        return [*done, REPLACED]
    done += database_upgrade.sunstone_views_back(node, journal, installed["opennebula"], target)
    done += database_upgrade.upgrade_database(node, journal)
    # Step 10 (sources before 7.0): the file put back for the labels migration goes again.
    done += database_upgrade.sunstone_views_deleted(node, journal)
    return done


def update_configuration(node: Node, vip: str | None) -> list[str]:
    """Step 7: `onecfg upgrade` where onecfg has it, then MONITOR_ADDRESS = the VIP (HA).

    The order matters: `onecfg upgrade` rewrites /etc/one from the snapshot the package
    upgrade took, so an edit made before it would be lost. A final `onecfg status` must
    be clean ("There should be no errors and no new updates available").
    """
    done = []
    status = onecfg.status(node)
    if status is not None:
        # rc 0: clean; rc 1: updates pending (normal right after the package upgrade,
        # pitfall 22); rc 255 "Unknown config version": the doc's "No action is required"
        # (the upgrade initialises it); any other error needs the operator.
        if status.exit_status == 1 or onecfg.unknown_version(status) or node.dry_run:
            node.run("onecfg upgrade", mutating=True, timeout=ONEDB_TIMEOUT)
            done.append("onecfg upgrade")
        elif status.exit_status != 0:
            raise CommandFailed(status)
    elif not node.dry_run:
        # Community Edition's onecfg before 7.0 migrates nothing: the operator must know,
        # not read an upgrade that "went fine" (the doc: diff against the backup by hand).
        done.append(
            "configuration NOT migrated by onecfg (no onecfg upgrade on this node): compare "
            "/etc/one and /var/lib/one/remotes/etc with their step-4 backups"
        )
    if vip:
        text = node.read_file(config.MONITORD_CONF)
        if config.monitor_address(text) != vip:
            node.write_file(config.MONITORD_CONF, config.with_monitor_address(text, vip))
            done.append(f"MONITOR_ADDRESS = {vip}")
    if status is not None and done and not node.dry_run:
        final = node.run("onecfg status", check=False)
        if final.exit_status != 0:
            raise CommandFailed(final)
    return done

"""Steps 6 and 7 on one front-end: the migrators, and onecfg before the runbook's edits."""

from __future__ import annotations

import pytest

from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.opennebula import database_upgrade, frontend, package_upgrade, system
from tests.unit.fakes import FakeNode

DEB = system.Platform("deb", "Debian GNU/Linux 12 (bookworm)")
MONITORD = 'MONITOR_ADDRESS = "auto"\n'


def test_the_migrators_are_installed_when_the_target_repository_offers_them() -> None:
    node = FakeNode(answers={"apt-cache show opennebula-migration": (0, "Package: x\n", "")})
    installed = {"opennebula": "6.10.5-1"}
    assert package_upgrade.migrators_to_install(node, DEB, installed, "7.0") == [
        "opennebula-migration"
    ]


def test_nothing_is_installed_when_a_migration_package_is_there() -> None:
    node = FakeNode()
    installed = {"opennebula": "6.10.5-1", "opennebula-migration-community": "6.10.0.1-1"}
    assert package_upgrade.migrators_to_install(node, DEB, installed, "6.10") == []
    assert node.ran == []  # and the installed one is upgraded with the rest
    assert "opennebula-migration-community" in package_upgrade.packages_to_upgrade(
        {"opennebula": "6.8.3-1", "opennebula-migration-community": "6.8.0.1-1"}, DEB, "6.10"
    )


def test_no_migrators_anywhere_refuses_naming_the_packages() -> None:
    missing = (100, "", "N: Unable to locate package\nE: No packages found\n")
    node = FakeNode(answers={"apt-cache show": missing})
    with pytest.raises(PreconditionFailed) as caught:
        package_upgrade.migrators_to_install(node, DEB, {"opennebula": "6.8.3-1"}, "6.10")
    message = str(caught.value)
    assert "opennebula-migration or opennebula-migration-community" in message
    assert "/etc/apt/sources.list.d/opennebula.list" in message
    assert "rerun" in message


def _configuration_node(status_codes: list[int], order: list[str]) -> FakeNode:
    def status(command: str) -> tuple[int, str, str]:
        order.append("status")
        return status_codes.pop(0), "--- Versions ---\n", ""

    def upgrade(command: str) -> tuple[int, str, str]:
        order.append("onecfg upgrade")
        return 0, "ANY   : Configuration updated to 7.0.0\n", ""

    def write(command: str) -> tuple[int, str, str]:
        order.append("MONITOR_ADDRESS")
        return 0, "", ""

    return FakeNode(
        answers={
            "command -v onecfg": (0, "/usr/bin/onecfg\n", ""),
            "onecfg status": status,
            "onecfg upgrade": upgrade,
            "cat -- /etc/one/monitord.conf": (0, MONITORD, ""),
            "cat > /etc/one/monitord.conf": write,
        }
    )


def test_onecfg_upgrade_runs_before_the_vip_edit_and_ends_clean() -> None:
    order: list[str] = []
    node = _configuration_node([1, 0], order)
    done = frontend.update_configuration(node, "192.0.2.250")
    assert done == ["onecfg upgrade", "MONITOR_ADDRESS = 192.0.2.250"]
    # the edit after `onecfg upgrade` (which rewrites /etc/one from its snapshot)
    assert order == ["status", "onecfg upgrade", "MONITOR_ADDRESS", "status"]


def test_a_final_onecfg_status_that_is_not_clean_fails_the_step() -> None:
    order: list[str] = []
    node = _configuration_node([1, 1], order)
    with pytest.raises(CommandFailed):
        frontend.update_configuration(node, None)


def test_onecfg_without_status_is_left_alone_and_the_report_says_so() -> None:
    help_text = (0, "", "Command 'status' not found\n")  # 6.10 Community Edition
    node = FakeNode(
        answers={"command -v onecfg": (0, "/usr/bin/onecfg\n", ""), "onecfg status": help_text}
    )
    done = frontend.update_configuration(node, None)
    assert "onecfg upgrade" not in node.ran
    # ... and the report says the configuration was not migrated
    assert done == [
        "configuration NOT migrated by onecfg (no onecfg upgrade on this node): compare "
        "/etc/one and /var/lib/one/remotes/etc with their step-4 backups"
    ]


def test_fsck_errors_are_the_lines_before_its_totals() -> None:
    clean = (
        "Sqlite database backup stored in /var/lib/one/backups/a.sql\n"
        "Use 'onedb restore' to restore the DB.\n\nTotal errors found: 0\n"
        "Total errors repaired: 0\nTotal errors unrepaired: 0\n"
    )
    assert database_upgrade.fsck_errors(clean) == []
    dirty = (
        "MySQL dump stored in /var/lib/one/backups/a.sql\n"
        "Use 'onedb restore' or restore the DB using the mysql command:\n"
        "mysql -u user -h server -P port db_name < backup_file\n\n"
        "Host 0 RUNNING_VMS has 2 \tis\t1\n[UNREPAIRED] Image 4 has a wrong DATASTORE_ID\n\n"
        "Total errors found: 2\nTotal errors repaired: 1\nTotal errors unrepaired: 1\n"
    )
    assert database_upgrade.fsck_errors(dirty) == [
        "Host 0 RUNNING_VMS has 2 \tis\t1",
        "[UNREPAIRED] Image 4 has a wrong DATASTORE_ID",
    ]

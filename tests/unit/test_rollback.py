"""The rollback's decisions from a journal: what to undo, where, with which versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import rollback, rollback_configuration, rollback_packages, system
from oneupgrade.opennebula.survey import NodeSurvey

DEB = system.Platform("deb", "Debian GNU/Linux 12 (bookworm)", "debian", "12")
RPM = system.Platform("rpm", "AlmaLinux 9.4 (Seafoam Ocelot)", "almalinux", "9.4")
DUMP = {"node": "fe1", "path": "/b/pre-upgrade-fe1.sql", "sha256": "ab", "taken": 1.0e9}


def _seen(name: str, role: str, **packages: str) -> NodeSurvey:
    pk = {k.replace("_", "-"): v for k, v in packages.items()}
    return NodeSurvey(name, role, DEB, pk, pk.get("opennebula") or pk.get("opennebula-node-kvm"))


def _upgrade(**facts: object) -> rollback.Upgrade:
    return rollback.Upgrade("20261203T000000Z", "6.10.5", "7.0", dict(facts))


def test_the_backups_name_their_originals() -> None:
    assert rollback_configuration._original("/etc/one.2026-12-03") == "/etc/one"
    assert rollback_configuration._original("/etc/one.2026-12-03.2") == "/etc/one"
    assert (
        rollback_configuration._original("/var/lib/one/remotes/etc.2026-12-03")
        == "/var/lib/one/remotes/etc"
    )
    assert rollback_configuration._original("/etc/onecfg.conf.2026-12-03") == "/etc/onecfg.conf"


def test_the_downgrade_names_exact_versions_and_keeps_modified_configuration() -> None:
    deb = rollback_packages.downgrade_command(
        DEB, {"opennebula": "6.10.5", "opennebula-tools": "6.10.5"}
    )
    assert "--allow-downgrades" in deb
    assert "--force-confold" in deb
    assert deb.endswith("opennebula=6.10.5-1 opennebula-tools=6.10.5-1")
    assert rollback_packages.downgrade_command(RPM, {"opennebula": "7.0.1"}) == (
        "dnf -y downgrade opennebula-7.0.1"
    )


def test_the_leader_is_the_one_before_the_upgrade_and_its_dump_is_the_one() -> None:
    up = _upgrade(
        raft_before={"fe1": "leader", "fe2": "follower"},
        leader="fe2",  # leadership moved in step 8
        **{"db_backup/pre-upgrade/fe1": DUMP, "db_backup/pre-upgrade/fe2": {**DUMP, "node": "fe2"}},
    )
    assert up.leader == "fe1"
    assert up.dump is not None
    assert up.dump.node == "fe1"
    assert _upgrade().dump is None  # step 4 never took it


def test_packages_before_fall_back_to_the_release_of_the_node() -> None:
    up = _upgrade(releases_before={"fe1": "6.10.4"})
    now = {"opennebula": "7.0.2", "opennebula-migration": "7.0.2"}
    assert up.packages_before("fe1", now) == {
        "opennebula": "6.10.4",
        "opennebula-migration": "6.10.4",
    }
    recorded = _upgrade(packages_before={"fe1": {"opennebula": "6.10.5"}})
    assert recorded.packages_before("fe1", now) == {"opennebula": "6.10.5"}


def test_the_plan_restores_where_the_upgrade_reached_and_leaves_the_rest(tmp_path: Path) -> None:
    up = _upgrade(
        raft_before={"fe1": "leader"},
        packages_before={
            "fe1": {"opennebula": "6.10.5"},
            "fe2": {"opennebula": "6.10.5"},
            "hv1": {"opennebula-node-kvm": "6.10.5"},
            "hv2": {"opennebula-node-kvm": "6.10.5"},
        },
        **{
            "db_backup/pre-upgrade/fe1": DUMP,
            "config_backups/fe1": ["/etc/one.2026-12-03"],
            # a follower's backups, taken during the leader's step 4, change nothing
            "db_backup/pre-upgrade/fe2": {**DUMP, "node": "fe2"},
            "config_backups/fe2": ["/etc/one.2026-12-03"],
        },
    )
    found = {
        "fe1": _seen("fe1", "frontend", opennebula="7.0.2", opennebula_migration="7.0.2"),
        "fe2": _seen("fe2", "frontend", opennebula="6.10.5"),
        "hv1": _seen("hv1", "hypervisor", opennebula_node_kvm="7.0.2"),
        "hv2": _seen("hv2", "hypervisor", opennebula_node_kvm="6.10.5"),
    }
    journal = Journal(tmp_path / "journal.json")
    plan = rollback.plan(up, found, journal)
    assert plan.restore == ("fe1",)
    assert plan.reinstall == ("fe1", "hv1")
    assert plan.configure == ("fe1",)
    assert plan.untouched == ("fe2", "hv2")
    journal.remember(rollback.RESTORED.format(node="fe1"), "ab")
    journal.remember(rollback.CONFIGURED.format(node="fe1"), True)
    assert rollback.plan(up, found, journal).restore == ()
    assert rollback.plan(up, found, journal).configure == ()


def test_nothing_to_roll_back_is_said(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json")
    with pytest.raises(PreconditionFailed, match="records no upgrade"):
        rollback.to_roll_back(journal)
    journal.start_campaign("c", "6.10.5", "7.0", "r1")
    with pytest.raises(PreconditionFailed, match="changed nothing"):
        rollback.to_roll_back(journal)


def test_the_rollback_is_a_campaign_of_its_own_holding_the_upgrade(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json")
    journal.start_campaign("c", "6.10.5", "7.0", "r1")
    journal.mark_changed()
    journal.remember("leader", "fe1")
    up = rollback.begin(journal, "c", "r2", dry_run=False)
    assert (up.id, up.source, up.target) == ("r1", "6.10.5", "7.0")
    assert journal.campaign is not None
    assert journal.campaign["kind"] == "rollback"
    assert (journal.campaign["source"], journal.campaign["target"]) == ("7.0", "6.10.5")
    assert rollback.begin(journal, "c", "r3", dry_run=False) == up  # continued, not nested
    assert [r["id"] for r in journal.campaign["runs"]] == ["r2", "r3"]
    # refused in its preflight, it changed nothing: the upgrade is current again
    assert journal.give_way(unless="upgrade")
    assert journal.campaign["id"] == "r1"
    assert not journal.give_way(unless="upgrade")

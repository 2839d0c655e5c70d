"""Restoring the Previous Version, for an HA zone, from what the upgrade campaign recorded.

OpenNebula's page: "With OpenNebula <new> still installed, restore the DB backup using
`onedb restore -f`; uninstall OpenNebula <new>, and install your previous version
again; copy back the backup of /etc/one you did to restore your configuration." The
HA shape is the upgrade's: one database for every front-end (the leader's
pre-upgrade dump, its sha256 checked on each), each front-end its own /etc/one back
(so its SERVER_ID), the leader started first.

A rollback is a campaign of its own in the journal ("kind": "rollback"); the upgrade
it undoes is kept in its facts under UPGRADE, so a rerun (or --lf) finds everything
in one place, and the next `pytest runbook/` starts a new upgrade.

This module is the campaign and its plan; the stages are rollback_database.py,
rollback_packages.py, rollback_configuration.py and rollback_hypervisors.py.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Any

from oneupgrade.audit.journal import Journal
from oneupgrade.cluster import Cluster
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import onehost, onevm
from oneupgrade.opennebula.backups import Backup
from oneupgrade.opennebula.survey import NodeSurvey, survey_node
from oneupgrade.transport.node import Node

KIND = "rollback"
UPGRADE = "upgrade"  # fact: {"id", "source", "target", "facts"} of the campaign undone
RESTORED = "rollback_restored/{node}"  # fact: sha256 of the dump restored on the node
CONFIGURED = "rollback_configured/{node}"  # fact: its configuration backups were copied back
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Upgrade:
    """The upgrade campaign being rolled back, as its journal recorded it."""

    id: str
    source: str
    target: str
    facts: dict[str, Any]

    def fact(self, key: str, default: Any = None) -> Any:
        return self.facts.get(key, default)

    @property
    def leader(self) -> str | None:
        """The front-end whose database step 4 upgraded: the leader before the upgrade."""
        before = self.fact("raft_before") or {}
        found = [n for n, role in before.items() if role == "leader"]
        leader: str | None = found[0] if found else self.fact("leader")
        return leader

    @property
    def dump(self) -> Backup | None:
        """The leader's pre-upgrade dump (None: step 4 never reached `onedb backup`)."""
        known = self.fact(f"db_backup/pre-upgrade/{self.leader}")
        return Backup(**known) if known else None

    def packages_before(self, node: str, installed: dict[str, str]) -> dict[str, str]:
        """The OpenNebula packages of `node` and their versions before the upgrade.

        Journals of earlier versions recorded the node's release only: every OpenNebula
        package installed now is taken back to that release."""
        recorded: dict[str, str] | None = (self.fact("packages_before") or {}).get(node)
        if recorded is not None:
            return dict(recorded)
        release = (self.fact("releases_before") or {}).get(node, self.source)
        return {p: release for p in installed if p.startswith("opennebula")}


@dataclass(frozen=True)
class Plan:
    """What the rollback does where, decided in preflight from the journal and the nodes."""

    dump: Backup | None
    restore: tuple[str, ...]  # front-ends that get the leader's dump
    reinstall: tuple[str, ...]  # nodes whose packages go back
    configure: tuple[str, ...]  # front-ends whose configuration backups are copied back
    untouched: tuple[str, ...]  # nodes the upgrade never changed: left alone

    def lines(self) -> list[str]:
        def listed(names: tuple[str, ...]) -> str:
            return ", ".join(names) or "none"

        where = f"{self.dump.node}:{self.dump.path}" if self.dump else "none taken"
        return [
            f"database: the leader's pre-upgrade dump ({where}) onto {listed(self.restore)}",
            f"packages back to the previous version on {listed(self.reinstall)}",
            f"configuration copied back on {listed(self.configure)}",
            f"never changed by the upgrade, left alone: {listed(self.untouched)}",
        ]


def plan(upgrade: Upgrade, found: dict[str, NodeSurvey], journal: Journal) -> Plan:
    """Every front-end the upgrade reached gets the leader's dump (one database for the
    zone) and its own configuration back; every node whose packages moved gets them back."""
    dump = upgrade.dump
    moved = {name for name, seen in found.items() if _moved(upgrade, name, seen.packages)}
    reached = {
        name
        for name, seen in found.items()
        if seen.role == "frontend" and _reached(upgrade, name, name in moved)
    }
    frontends = sorted(reached | {n for n in moved if found[n].role == "frontend"})
    restore = [
        n for n in frontends if dump and journal.fact(RESTORED.format(node=n)) != dump.sha256
    ]
    configure = [
        n
        for n in frontends
        if upgrade.fact(f"config_backups/{n}") and not journal.fact(CONFIGURED.format(node=n))
    ]
    changed = set(frontends) | moved
    return Plan(
        dump,
        tuple(restore),
        tuple(sorted(moved)),
        tuple(configure),
        tuple(sorted(n for n in found if n not in changed)),
    )


def _reached(upgrade: Upgrade, node: str, moved: bool) -> bool:
    """Did the upgrade change this front-end? The leader's changes begin with its
    backups (step 4). A follower's backups are taken during the leader's step 4 and
    change nothing: a follower was reached once its packages moved or step 6 replaced
    its database or configuration."""
    if node == upgrade.leader:
        backed_up = upgrade.fact(f"config_backups/{node}") or upgrade.fact(
            f"db_backup/pre-upgrade/{node}"
        )
        return bool(backed_up) or moved
    replaced = upgrade.fact(f"restored/{node}") or upgrade.fact(f"config_synced/{node}")
    return moved or bool(replaced)


def _moved(upgrade: Upgrade, node: str, installed: dict[str, str]) -> bool:
    before = upgrade.packages_before(node, installed)
    added = [p for p in installed if p.startswith("opennebula") and p not in before]
    return bool(added) or any(installed.get(p) != v for p, v in before.items())


def to_roll_back(journal: Journal) -> Upgrade:
    """The campaign the rollback undoes, from the rollback's facts or the journal's last upgrade."""
    campaign = journal.campaign
    if campaign is not None and campaign.get("kind") == KIND:
        return Upgrade(**campaign["facts"][UPGRADE])
    if campaign is None:
        raise PreconditionFailed(
            f"the journal {journal.path} records no upgrade of this cluster: nothing to roll "
            "back (a rollback undoes what `pytest runbook/` did, from its journal)"
        )
    if not campaign.get("changed"):
        raise PreconditionFailed(
            f"upgrade campaign {campaign['id']} changed nothing on the cluster: nothing to "
            "roll back"
        )
    return Upgrade(campaign["id"], campaign["source"], campaign["target"], campaign["facts"])


def begin(journal: Journal, cluster_name: str, run_id: str, dry_run: bool) -> Upgrade:
    """Continue the rollback campaign in the journal, or start one for the last upgrade."""
    upgrade = to_roll_back(journal)
    campaign = journal.campaign
    if campaign is not None and campaign.get("kind") == KIND:
        journal.add_run(run_id, dry_run)
        return upgrade
    journal.start_campaign(cluster_name, upgrade.target, upgrade.source, run_id, kind=KIND)
    journal.add_run(run_id, dry_run)
    journal.remember(UPGRADE, upgrade.__dict__)
    return upgrade


def context(cluster: Cluster) -> tuple[Upgrade, Plan]:
    """The upgrade undone and the plan, as this run's preflight found them; a run that
    resumes (--lf) past a passed preflight looks at the nodes again."""
    if "upgrade" not in cluster.observed:
        cluster.observed["upgrade"] = to_roll_back(cluster.journal)
    if "plan" not in cluster.observed:
        found = cluster.observed.get("survey")
        if found is None:
            found = cluster.observed["survey"] = cluster.fan_out(
                cluster.nodes.values(), survey_node
            )
        cluster.observed["plan"] = plan(cluster.observed["upgrade"], found, cluster.journal)
    return cluster.observed["upgrade"], cluster.observed["plan"]


def stamp(moment: float) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(moment))


def dump_time(leader: Node, dump: Backup) -> float:
    """When the dump was taken: as recorded, else its file's mtime on the leader."""
    if dump.taken:
        return dump.taken
    out = leader.run(f"stat -c %Y {shlex.quote(dump.path)}", check=False).stdout.strip()
    if not out.isdigit():
        raise PreconditionFailed(
            f"{leader}: the pre-upgrade dump {dump.path} is gone; restore it from the "
            "controller's copy in the campaign's backup directory (reports/<cluster>.backups "
            "or --backup-dir) first"
        )
    return float(out)


def changes_since(upgrade: Upgrade, leader: Node) -> list[str]:
    """What the restore loses, as far as the running zone shows it (empty: nothing)."""
    hosts_before = {str(i) for i in upgrade.fact("hosts_before") or []}
    vms_before = {str(i) for i in upgrade.fact("vms_before") or []}
    hosts = {str(h.id) for h in onehost.hosts(leader)}
    vms = {str(v.id) for v in onevm.vms(leader)}
    lines = []
    for what, now, before in (("VM", vms, vms_before), ("host", hosts, hosts_before)):
        created, deleted = sorted(now - before, key=int), sorted(before - now, key=int)
        if created:
            lines.append(f"{len(created)} {what}(s) created since: {', '.join(created)}")
        if deleted:
            lines.append(f"{len(deleted)} {what}(s) deleted or done since: {', '.join(deleted)}")
    return lines

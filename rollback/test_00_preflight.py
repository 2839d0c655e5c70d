"""Rollback step 0. Preflight: what the rollback restores, and what it loses.

Not a step of "Restoring the Previous Version", but what it takes for granted: the
upgrade's journal (source release, the leader's pre-upgrade dump and its sha256, the
configuration backups, the units and hosts as they were), every node reachable, the
dump intact on the leader. Restoring that dump loses every change made to
OpenNebula's database since it was taken: the step states them (the dump's time; VMs
and hosts created or deleted since, as far as the running zone shows them) and
refuses unless --accept-loss-since names that time. Nothing changes in this step.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import database, rollback, survey

pytestmark = [pytest.mark.step(0, "Preflight"), pytest.mark.rollback]


@pytest.mark.dependency(name="r00-journal", scope="session")
def test_the_upgrade_to_roll_back_is_in_the_journal(cluster: Cluster) -> None:
    upgrade = rollback.begin(
        cluster.journal, cluster.inventory.cluster, cluster.run_id, cluster.dry_run
    )
    cluster.observed["upgrade"] = upgrade
    cluster.say(f"rolling back upgrade campaign {upgrade.id}: {upgrade.target} -> {upgrade.source}")


@pytest.mark.dependency(name="r00-nodes", depends=["r00-journal"], scope="session")
def test_every_node_answers_and_the_leader_is_known(cluster: Cluster) -> None:
    upgrade: rollback.Upgrade = cluster.observed["upgrade"]
    cluster.observed["survey"] = cluster.fan_out(cluster.nodes.values(), survey.survey_node)
    database.guard(cluster)  # its password out of every record (onedb reads oned.conf)
    found = survey.zone_from_any(cluster.frontends, cluster.inventory.zone)
    leader = upgrade.leader
    if found is not None:
        zone, _ = found
        cluster.observed["zone"] = zone
        by_address = {n.address: n.name for n in cluster.frontends}
        running = [by_address.get(s.address, s.name) for s in zone.leaders]
        leader = running[0] if running else leader
    assert leader in {n.name for n in cluster.frontends}, f"no front-end leader known ({leader})"
    cluster.journal.remember("leader", leader)
    plan = rollback.plan(upgrade, cluster.observed["survey"], cluster.journal)
    cluster.observed["plan"] = plan
    for line in plan.lines():
        cluster.say(line)


@pytest.mark.dependency(name="r00-dump", depends=["r00-nodes"], scope="session")
def test_the_leaders_pre_upgrade_dump_is_intact(cluster: Cluster) -> None:
    plan: rollback.Plan = cluster.observed["plan"]
    if plan.dump is None or not plan.restore:
        return
    node = cluster.nodes[plan.dump.node]
    seen = node.run(f"sha256sum {plan.dump.path}", check=False).stdout.split()[:1]
    assert seen == [plan.dump.sha256], (
        f"{node}: the pre-upgrade dump {plan.dump.path} is missing or damaged (sha256 "
        f"{seen[0] if seen else 'none'}, recorded {plan.dump.sha256}); put back the "
        "controller's copy from the report directory's backups/ and run again"
    )


@pytest.mark.dependency(name="r00-loss", depends=["r00-dump"], scope="session")
def test_what_the_restore_loses_is_accepted(cluster: Cluster) -> None:
    plan: rollback.Plan = cluster.observed["plan"]
    if plan.dump is None or not plan.restore:
        cluster.say("no database to restore: nothing of OpenNebula's database is lost")
        return
    taken = rollback.stamp(rollback.dump_time(cluster.nodes[plan.dump.node], plan.dump))
    if "zone" in cluster.observed:
        try:
            lost = rollback.changes_since(cluster.observed["upgrade"], cluster.leader)
        except CommandFailed as exc:
            lost = [f"not counted ({str(exc).splitlines()[0]})"]
        seen = "; ".join(lost) or "no VM or host created or deleted since"
    else:
        seen = "OpenNebula has not answered since (it is stopped): nothing was counted"
    what = (
        f"restoring {plan.dump.node}:{plan.dump.path} loses every change to OpenNebula's "
        f"database since {taken} ({seen})"
    )
    cluster.say(what)
    accepted = cluster.accept_loss_since
    if cluster.dry_run or accepted == taken:
        return
    given = f"--accept-loss-since {accepted} does not match" if accepted else "refused"
    pytest.fail(
        f"{what}: {given}; nothing was changed. To accept that loss, run again with "
        f"--accept-loss-since {taken}",
        pytrace=False,
    )

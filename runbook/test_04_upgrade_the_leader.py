"""Step 4. Upgrade the Leader.

Doc: "Upgrade the leader Front-end as described in steps 4 to 9 of Upgrading
Single Front-end" — back up /etc/one and /var/lib/one/remotes/etc (`cp -ra`) and
the database (`onedb backup`), switch the package repository to the target series,
upgrade the packages keeping the modified configuration files, set
`MONITOR_ADDRESS` to the VIP in monitord.conf (HA), `onecfg upgrade` where onecfg
exists, `onedb upgrade -v`, `onedb fsck` — then "create a database backup to
replicate the upgraded state to the followers" (`onedb backup`). Its path and
sha256 are recorded; step 6 verifies the copy against that checksum.

Speed: once the leader's backups are taken, the followers' own (step 4 of the single
front-end guide, the first of their step 5 work) are taken in the background while the
leader's upgrade runs, so step 5 only waits for them: a backup changes nothing the
leader's failure would need undone, and a dump takes as long as the leader's own,
inside the outage.

With --overlap-followers the followers' whole step 5 work (their backups and packages;
their database is step 6's) starts in the background first and goes on during the
leader's, so step 5 only waits for it. The trade-off: if the leader's upgrade
fails, the followers are upgraded as well and need rolling back with it.
"""

from collections.abc import Callable

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import backups, campaign, database, system
from oneupgrade.opennebula import frontend as fe

pytestmark = pytest.mark.step(4, "Upgrade the Leader")


@pytest.mark.dependency(name="04-leader", depends=["03-stop"], scope="session")
def test_the_leader_is_upgraded(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    database.guard(cluster)  # its password out of every record before onedb runs
    vip = campaign.vip(cluster)
    if cluster.overlap_followers:
        started = cluster.background(
            cluster.followers,
            lambda node: fe.upgrade_frontend(
                node, cluster.journal, cluster.target, vip, migrate=False
            ),
            lane="followers",  # never behind the hypervisors' downloads
        )
        cluster.say(f"--overlap-followers: {', '.join(started)} upgrading meanwhile (step 5 waits)")
    try:
        done = fe.upgrade_frontend(
            cluster.leader,
            cluster.journal,
            cluster.target,
            vip,
            # after the leader's backups: a failed one touches no follower
            meanwhile=None if cluster.overlap_followers else _back_up_the_followers(cluster),
        )
    except Exception:
        if cluster.overlap_followers:
            cluster.say(
                "the followers' upgrade went on meanwhile (--overlap-followers): if the leader "
                "cannot be finished, roll back every front-end with pytest rollback/"
            )
        raise
    cluster.say("; ".join(done) or "already done: the leader is at the target")


def _back_up_the_followers(cluster: Cluster) -> Callable[[], None]:
    """The start of the followers' backups, the first of their step 5 work, in the
    background during the leader's upgrade."""

    def start() -> None:
        started = cluster.background(
            cluster.followers,
            lambda node: fe.back_up_frontend(node, cluster.journal, cluster.target),
            lane="followers",
        )
        if started:
            cluster.say(f"{', '.join(started)}: backing up meanwhile (step 5 waits)")

    return start


@pytest.mark.dependency(name="04-backup", depends=["04-leader"], scope="session")
def test_the_upgraded_database_is_backed_up_for_the_followers(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    backup = backups.backup_database(cluster.leader, cluster.journal, "replication")
    cluster.say(f"replication backup {backup.node}:{backup.path} sha256 {backup.sha256}")
    if not cluster.dry_run:
        plat = system.platform(cluster.leader)
        version = system.installed_packages(cluster.leader, plat.family).get("opennebula")
        assert system.at_target(version, cluster.target), f"the leader runs {version}"

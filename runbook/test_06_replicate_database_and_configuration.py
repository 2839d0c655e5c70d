"""Step 6. Replicate Database and Configuration.

Doc: "Copy the database backup of the leader to each follower and restore it"
(`scp ... && onedb restore -f`), "Synchronize the configuration files to the
followers" (`rsync -r /etc/one`, `rsync -r /var/lib/one/remotes/etc`), with the
note "Before copying, gather the SERVER_ID from your /etc/one/oned.conf files on
each follower, then replace those values afterwards", and "ensure these folders
are owned by the oneadmin user" (`chown -R oneadmin:oneadmin`).

Gaps closed: the backup's sha256 is verified on the follower before it is
restored (a corrupted copy never reaches the database), and afterwards the
follower's oned.conf must differ from the leader's in SERVER_ID only. A follower
whose configuration names its own address (bound to its IP, not 0.0.0.0) keeps it:
the copy's leader address is put back to the follower's in exactly the files that
named it before the copy (see `replication`).
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import database, replication
from oneupgrade.opennebula.backups import Backup
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(6, "Replicate Database and Configuration")


def _replicate(cluster: Cluster, follower: Node) -> str:
    journal = cluster.journal
    own_id = replication.server_id(follower, journal)
    local = replication.node_local_files(follower, journal)
    known = journal.fact("db_backup/replication/" + cluster.leader.name)
    assert known is not None, "the leader's replication backup is not recorded (step 4)"
    backup = Backup(**known)
    if journal.fact(f"restored/{follower}") == backup.sha256:
        restored = "database already restored from this backup"
    else:
        path = replication.restore_leader_backup(cluster.leader, follower, backup)
        journal.remember(f"restored/{follower}", backup.sha256)
        restored = f"restored {path}"
    if journal.fact(f"config_synced/{follower}") == backup.sha256:
        return f"{restored}; configuration already synchronised in this campaign"
    replication.sync_configuration(cluster.leader, follower, own_id, local)
    journal.remember(f"config_synced/{follower}", backup.sha256)
    kept = f", its own address kept in {', '.join(local)}" if local else ""
    return f"{restored}; configuration synchronised, SERVER_ID {own_id} kept{kept}"


@pytest.mark.dependency(name="06-replicate", depends=["05-followers"], scope="session")
def test_every_follower_has_the_leaders_database_and_configuration(cluster: Cluster) -> None:
    if cluster.control_plane_done:
        cluster.say("already done: the control plane is upgraded")
        return
    database.guard(cluster)  # its password out of every record before onedb runs
    done = cluster.fan_out(cluster.followers, lambda f: _replicate(cluster, f))
    for name, what in done.items():
        cluster.say(f"{name}: {what}")


@pytest.mark.dependency(depends=["06-replicate"], scope="session")
def test_each_follower_differs_from_the_leader_in_server_id_only(
    cluster: Cluster, frontend: Node
) -> None:
    if cluster.dry_run or frontend is cluster.leader or cluster.control_plane_done:
        return
    own_id = replication.server_id(frontend, cluster.journal)
    local = replication.node_local_files(frontend, cluster.journal)
    problems = replication.configuration_problems(cluster.leader, frontend, own_id, local)
    assert not problems, f"{frontend}: " + "; ".join(problems)

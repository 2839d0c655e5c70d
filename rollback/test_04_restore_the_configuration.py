"""Rollback step 4. Copy back the configuration backup.

Doc: "Copy back the backup of /etc/one you did to restore your configuration." Each
front-end gets its own backups of the upgrade's step 4 back (/etc/one, remotes/etc,
onecfg's state), so each keeps its own SERVER_ID; what the upgrade left is kept
beside each as `<path>.rolled-back-DATE`.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import config, rollback, rollback_configuration
from oneupgrade.transport.node import Node

pytestmark = [pytest.mark.step(4, "Copy back the configuration"), pytest.mark.rollback]


@pytest.mark.dependency(name="r04-config", depends=["r03-packages"], scope="session")
def test_each_front_end_has_its_own_configuration_back(cluster: Cluster) -> None:
    upgrade, plan = rollback.context(cluster)

    def restore(node: Node) -> list[str]:
        done = rollback_configuration.restore_configuration(
            node, upgrade.fact(f"config_backups/{node}")
        )
        if not cluster.dry_run:
            cluster.journal.remember(rollback.CONFIGURED.format(node=node), True)
        return done

    nodes = [n for n in cluster.frontends if n.name in plan.configure]
    done = cluster.fan_out(nodes, restore)
    for name, what in sorted(done.items()):
        cluster.say(f"{name}: {', '.join(what) or 'configuration already as backed up'}")
    if cluster.dry_run:
        return
    wrong = {}
    for node in cluster.frontends:
        recorded = upgrade.fact(f"server_id/{node}")
        seen = config.server_id(node.read_file(config.ONED_CONF))
        if recorded is not None and seen != int(recorded):
            wrong[node.name] = (seen, recorded)
    assert not wrong, f"SERVER_ID (found, before the upgrade) not kept: {wrong}"

"""Rollback step 3. Uninstall the new OpenNebula and install the previous version again.

Doc: "Uninstall OpenNebula <new>, and install your previous version again." Each
front-end's OpenNebula packages go back to the exact versions the upgrade recorded
before it changed them, from the previous series' repository; packages the upgrade
added (7.0's opennebula-migration, say) are removed. Modified configuration files are
kept (`--force-confold`); step 4 copies the backed-up configuration back anyway.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import rollback, rollback_packages

pytestmark = [
    pytest.mark.step(3, "Install the previous version again"),
    pytest.mark.rollback,
]


@pytest.mark.dependency(name="r03-packages", depends=["r02-restore"], scope="session")
def test_every_front_end_runs_the_previous_version_again(cluster: Cluster) -> None:
    upgrade, plan = rollback.context(cluster)
    nodes = [n for n in cluster.frontends if n.name in plan.reinstall]
    done = cluster.fan_out(nodes, lambda node: rollback_packages.reinstall(node, upgrade))
    for name, what in sorted(done.items()):
        cluster.say(f"{name}: {', '.join(what) or 'already at the previous version'}")

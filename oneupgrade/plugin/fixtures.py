"""The fixtures the runbook steps take: the cluster, one front-end or hypervisor per
test (a test taking `frontend` or `hypervisor` runs once per such node of the
inventory), the leader and the followers.
"""

from __future__ import annotations

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.plugin.options import inventory_key
from oneupgrade.plugin.session import session_key
from oneupgrade.transport.node import Node


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = metafunc.config.stash.get(inventory_key, None)
    for fixture, role in (("frontend", "frontend"), ("hypervisor", "hypervisor")):
        if fixture in metafunc.fixturenames:
            names = [] if inventory is None else [h.name for h in inventory.nodes if h.role == role]
            metafunc.parametrize(fixture, names, ids=names, indirect=True)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    runbook = request.config.stash.get(session_key, None)
    if runbook is None:
        pytest.fail("runbook steps need --inventory", pytrace=False)
    return runbook.cluster


@pytest.fixture
def frontend(request: pytest.FixtureRequest, cluster: Cluster) -> Node:
    name: str = request.param
    return cluster.nodes[name]


@pytest.fixture
def hypervisor(request: pytest.FixtureRequest, cluster: Cluster) -> Node:
    name: str = request.param
    return cluster.nodes[name]


@pytest.fixture
def leader(cluster: Cluster) -> Node:
    return cluster.leader


@pytest.fixture
def followers(cluster: Cluster) -> list[Node]:
    return cluster.followers

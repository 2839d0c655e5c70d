"""A fresh 7.2 zone on MariaDB, as the lab starts one (`up --opennebula real --version 7.2
--db mysql`): three front-ends, each oned on a MariaDB server of its own bound to its
node's address, one leader and followers in sync, and a write through the leader
committed on every server within seconds. One 3+1 lab, read only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onelab import Lab
from tests.e2e.runner import sh
from tests.real.test_real_72 import assert_a_write_commits_on_every_server
from tests.real.test_real_mysql import assert_each_front_end_on_its_own_mariadb
from tests.real.test_real_upgrade import FRONTENDS, assert_in_sync

pytestmark = [pytest.mark.real, pytest.mark.lab, pytest.mark.mariadb]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("real-72-fresh-mysql")
    lab = Lab.up(base / "lab", 3, 1, "7.2", opennebula="real", db="mysql")
    try:
        yield lab
    finally:
        lab.down()


def test_each_front_end_of_a_fresh_7_2_zone_runs_on_its_own_mariadb(lab: Lab) -> None:
    for node in FRONTENDS:
        assert sh(lab, node, "dpkg-query -W -f='${Version}' opennebula") == "7.2.0-1", node
    assert_each_front_end_on_its_own_mariadb(lab, FRONTENDS, "7.2.0")
    servers = assert_in_sync(lab)
    assert {s["NAME"] for s in servers} == set(FRONTENDS)


def test_a_fresh_7_2_zone_on_mariadb_commits_a_write_on_every_server(lab: Lab) -> None:
    assert_a_write_commits_on_every_server(lab)

"""The real tier's shared labs: one 3+2 lab at 6.10 on SQLite for the modules that only
read it (the last test of test_real_lab.py takes it down, and checks that down stops
everything), and one on MariaDB, read by test_differential.py and then upgraded and
rolled back by test_real_mysql.py (which takes it down at its end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onelab import Lab


@pytest.fixture(scope="package")
def real_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab.up(tmp_path_factory.mktemp("real") / "lab", 3, 2, "6.10", opennebula="real")
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="package")
def real_mysql_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab.up(
        tmp_path_factory.mktemp("real-mysql") / "lab", 3, 2, "6.10", opennebula="real", db="mysql"
    )
    try:
        yield lab
    finally:
        lab.down()

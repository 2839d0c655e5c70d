"""The real tier's shared labs: one 3+2 lab at 6.10 on SQLite for the modules that only
read it (the last test of test_real_lab.py takes it down, and checks that down stops
everything), and one on MariaDB, read by test_differential.py and then upgraded and
rolled back by test_real_mysql.py (which takes it down at its end).

Those three modules run first, so that the two shared labs are down before the modules
with labs of their own start: idle labs left up beside them load the 2 cores, and a
dummy host whose monitoring misses its interval under that load goes to ERROR and its
VMs to UNKNOWN for good (the dummy driver reports no VM state to bring them back)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from onelab import Lab

HERE = Path(__file__).parent
FIRST = ("test_differential.py", "test_real_lab.py", "test_real_mysql.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = [i for i, item in enumerate(items) if item.path.parent == HERE]
    if not here:
        return
    ours = [items[i] for i in here]
    rank = {name: n for n, name in enumerate(FIRST)}
    ours.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: files' order
    for i, item in zip(here, ours, strict=True):
        items[i] = item


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

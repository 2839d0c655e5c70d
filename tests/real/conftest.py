"""One real 3+2 lab at 6.10 for the modules that only read it (the last test of
test_real_lab.py takes it down, and checks that down stops everything)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oneupgrade.lab import Lab


@pytest.fixture(scope="package")
def real_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab.up(tmp_path_factory.mktemp("real") / "lab", 3, 2, "6.10", opennebula="real")
    try:
        yield lab
    finally:
        lab.down()

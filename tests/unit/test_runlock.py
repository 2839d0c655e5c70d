"""One run at a time per cluster journal; the refusal names the run holding it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oneupgrade.campaign import runlock


def test_a_second_run_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    first = runlock.acquire(tmp_path, "prod", "20261126T100000Z")
    with pytest.raises(runlock.RunLocked) as refused:
        runlock.acquire(tmp_path, "prod", "20261126T100500Z")
    message = str(refused.value)
    assert "another run against cluster prod is in progress" in message
    assert f"pid {os.getpid()}" in message
    assert "run 20261126T100000Z" in message
    first.close()
    again = runlock.acquire(tmp_path, "prod", "20261126T101000Z")
    assert "run 20261126T101000Z" in (tmp_path / runlock.LOCK_NAME).read_text()
    again.close()

"""Fake-root clusters for the simulation's unit tests (no lab, no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from onelab.sim.fakeroot import FakeCluster, MakeLab, ha_spec
from onelab.sim.spec import ClusterSpec


@pytest.fixture
def make_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeLab:
    # the suite may run as root; onehost sync must see oneadmin
    monkeypatch.setattr("onelab.sim.tools.onehost.euid", lambda: 9869)
    monkeypatch.delenv("ONE_XMLRPC", raising=False)

    def make(spec: ClusterSpec | None = None) -> FakeCluster:
        return FakeCluster(tmp_path, spec or ha_spec())

    return make


@pytest.fixture
def lab(make_lab: MakeLab) -> FakeCluster:
    return make_lab()

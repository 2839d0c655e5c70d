"""Step 4's copies on the controller: checked against the node's sha256, private,
copied once, copied again when the controller's copy is damaged."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import safekeeping
from tests.unit.fakes import FakeNode

DUMP = "/var/lib/one/backups/oneupgrade/pre-upgrade-fe1-20261203-101010.sql"


class DumpNode(FakeNode):
    def __init__(self, data: bytes) -> None:
        super().__init__("fe1")
        self.data = data
        self.fetched = 0

    def fetch(self, path: str, *, timeout: float | None = None) -> bytes:
        assert path == DUMP
        self.fetched += 1
        return self.data


def test_a_dump_is_kept_private_and_copied_once(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "reports" / "c" / "journal.json")
    node = DumpNode(b"CREATE TABLE pool;\n")
    digest = hashlib.sha256(node.data).hexdigest()
    copy = Path(str(safekeeping.keep_dump(node, journal, DUMP, digest)))
    # beside the report directory, never in it: the report directory holds no secret
    assert copy == tmp_path / "reports" / "c.backups" / "fe1" / Path(DUMP).name
    assert copy.read_bytes() == node.data
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.parent.parent.stat().st_mode) == 0o700
    assert safekeeping.keep_dump(node, journal, DUMP, digest) is None
    assert node.fetched == 1
    copy.write_bytes(b"damaged")  # the controller's copy rotted: copied again
    assert safekeeping.keep_dump(node, journal, DUMP, digest) == str(copy)
    assert node.fetched == 2
    assert copy.read_bytes() == node.data


def test_a_transfer_that_does_not_match_the_nodes_sha256_is_refused(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "journal.json")
    node = DumpNode(b"truncated")
    with pytest.raises(PreconditionFailed, match="damaged in transfer; rerun to copy it again"):
        safekeeping.keep_dump(node, journal, DUMP, "0" * 64)
    assert not (tmp_path.parent / f"{tmp_path.name}.backups").exists()
    assert journal.fact(f"controller_copy/fe1/{Path(DUMP).name}") is None

"""write_probe: a write through the leader must commit on every server, or the step says
where each server stands (and, on SQLite, which OpenNebula defect stalls it)."""

from __future__ import annotations

import json

import pytest

from oneupgrade.opennebula import write_probe
from oneupgrade.opennebula.onezone import FOLLOWER, LEADER, Zone, ZoneServer
from tests.unit.fakes import FakeNode

EMPTY_POOL = (0, json.dumps({"GROUP_POOL": {"GROUP": [{"ID": "0", "NAME": "oneadmin"}]}}), "")
CREATE = "ONE_XMLRPC_TIMEOUT=10 onegroup create"
DELETE = "ONE_XMLRPC_TIMEOUT=10 onegroup delete"


def _zone(*marks: tuple[int, int]) -> Zone:
    """marks: (LOG_INDEX, COMMIT) for fe1 (the leader), fe2, fe3."""
    return Zone(
        0,
        "OpenNebula",
        True,
        tuple(
            ZoneServer(
                i, f"fe{i + 1}", f"http://10.0.0.{i + 1}:2633/RPC2", role, "2", str(c), str(ix)
            )
            for i, (ix, c) in enumerate(marks)
            for role in [LEADER if i == 0 else FOLLOWER]
        ),
    )


def _reader(zones: list[Zone]):  # type: ignore[no-untyped-def]
    seen = iter(zones)
    last = zones[-1]
    return lambda: next(seen, last)


def test_a_write_that_every_server_commits_passes_and_leaves_no_group() -> None:
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: (0, "ID: 104\n", ""),
                             DELETE: (0, "", "")})  # fmt: skip
    zones = [_zone((58, 58), (57, 57), (57, 57)), _zone((58, 58), (58, 58), (58, 58))]
    probe = write_probe.run(node, _reader(zones))
    assert probe.group == "oneupgrade-probe"
    assert probe.group_id == 104
    writes = [c for c in node.ran if "onegroup create" in c or "onegroup delete" in c]
    assert writes == [f"{CREATE} oneupgrade-probe", f"{DELETE} oneupgrade-probe"]


def test_followers_that_do_not_commit_the_write_fail_naming_each_server() -> None:
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: (0, "ID: 104\n", ""),
                             DELETE: (0, "", "")})  # fmt: skip
    stalled = _zone((57, 55), (54, 54), (54, 54))
    with pytest.raises(write_probe.ProbeFailed) as failed:
        write_probe.run(node, _reader([stalled]), sqlite=True, patience=0.3)
    message = str(failed.value)
    assert "did not commit on every server within 0.3 s" in message
    assert "fe1 (leader) 57/55, fe2 54/54, fe3 54/54" in message
    assert "SqliteDB::exec_ext" in message
    assert "MySQL/MariaDB" in message
    assert "\n" not in message  # one line
    assert not any("onegroup delete" in c for c in node.ran)  # the next run removes it


def test_on_mysql_the_failure_names_no_sqlite_defect() -> None:
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: (0, "ID: 104\n", "")})
    with pytest.raises(write_probe.ProbeFailed) as failed:
        write_probe.run(node, _reader([_zone((57, 55), (54, 54), (54, 54))]), patience=0.2)
    assert "SqliteDB" not in str(failed.value)


def test_a_write_the_cli_gives_up_on_fails_with_its_error() -> None:
    timed_out = (255, "", "Net::ReadTimeout with #<Socket:(closed)>\n")
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: timed_out})
    with pytest.raises(write_probe.ProbeFailed) as failed:
        write_probe.run(node, _reader([_zone((57, 55), (54, 54), (54, 54))]))
    assert "`onegroup create` of the probe through fe1 failed (Net::ReadTimeout" in str(
        failed.value
    )
    assert "does not replicate" in str(failed.value)


def test_a_write_oned_refuses_is_named_as_refused_not_as_a_stall() -> None:
    refused = (255, "", "[one.group.allocate] Cannot process request, zone disabled\n")
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: refused})
    with pytest.raises(write_probe.ProbeFailed) as failed:
        write_probe.run(node, _reader([_zone((53, 53), (53, 53), (53, 53))]), sqlite=True)
    assert "oned refused the write" in str(failed.value)
    assert "zone disabled" in str(failed.value)
    assert "SqliteDB" not in str(failed.value)


def test_a_probe_group_an_earlier_run_left_is_deleted_first() -> None:
    names = ["oneadmin", "oneupgrade-probe", "oneupgrade-probes-are-not-this", "ops"]
    groups = [{"ID": str(i), "NAME": n} for i, n in zip((0, 101, 102, 103), names, strict=True)]
    left = json.dumps({"GROUP_POOL": {"GROUP": groups}})
    node = FakeNode(answers={"onegroup list": (0, left, ""), CREATE: (0, "ID: 104\n", ""),
                             DELETE: (0, "", "")})  # fmt: skip
    write_probe.run(node, _reader([_zone((9, 9), (9, 9), (9, 9))]))
    deletes = [c for c in node.ran if "onegroup delete" in c]
    assert deletes == [f"{DELETE} 101", f"{DELETE} oneupgrade-probe"]


def test_on_a_busy_zone_a_write_every_server_holds_and_committed_passes() -> None:
    # the leader always has a record in flight and the followers' COMMIT trails by a
    # heartbeat: never all equal, yet the probe's write (index 58) is on every server
    node = FakeNode(answers={"onegroup list": EMPTY_POOL, CREATE: (0, "ID: 104\n", ""),
                             DELETE: (0, "", "")})  # fmt: skip
    zones = [
        _zone((58, 57), (57, 57), (57, 56)),  # after the create: the leader's COMMIT 57
        _zone((60, 59), (59, 58), (60, 58)),  # every server holds and committed 57
        _zone((61, 60), (60, 59), (61, 59)),  # after the delete: COMMIT 60
        _zone((62, 61), (61, 60), (62, 60)),  # every server at 60
    ]
    probe = write_probe.run(node, _reader(zones), patience=1.0)
    assert probe.group_id == 104

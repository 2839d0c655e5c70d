"""Step 6: a follower whose configuration binds its own address keeps it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from oneupgrade.audit.journal import Journal
from oneupgrade.opennebula import replication
from tests.unit.fakes import FakeNode


def _node(name: str, address: str, **answers: tuple[int, str, str]) -> FakeNode:
    node = FakeNode(name, answers=dict(answers))
    node.host = dataclasses.replace(node.host, address=address)
    return node


def test_the_leaders_address_becomes_the_followers_and_nothing_else_does() -> None:
    leader, follower = _node("fe1", "10.0.0.1"), _node("fe2", "10.0.0.2")
    text = (
        'LISTEN_ADDRESS = "10.0.0.1"\n'
        'ENDPOINT = "http://10.0.0.12:2633/RPC2"\n'  # another node: untouched
        'ARGUMENTS = "-p 2101 -l 2102 -b 10.0.0.1"\n'
        'MONITOR_ADDRESS = "110.0.0.1"\n'
    )
    assert replication.own_addresses(text, leader, follower) == (
        'LISTEN_ADDRESS = "10.0.0.2"\n'
        'ENDPOINT = "http://10.0.0.12:2633/RPC2"\n'
        'ARGUMENTS = "-p 2101 -l 2102 -b 10.0.0.2"\n'
        'MONITOR_ADDRESS = "110.0.0.1"\n'
    )


def test_the_files_naming_the_node_are_found_once_before_the_copy(tmp_path: Path) -> None:
    found = "/etc/one/oned.conf\n/etc/one/monitord.conf\n"
    follower = _node("fe2", "10.0.0.2", **{"grep -rlwF -- 10.0.0.2": (0, found, "")})
    journal = Journal.load(tmp_path / "journal.json")
    first = replication.node_local_files(follower, journal)
    assert first == ["/etc/one/monitord.conf", "/etc/one/oned.conf"]
    # after the copy the follower's files name the leader: the campaign's first look counts
    follower.answers = {}
    assert replication.node_local_files(follower, journal) == first


def test_a_configuration_bound_to_all_addresses_is_copied_as_the_doc_says(tmp_path: Path) -> None:
    follower = _node("fe2", "10.0.0.2", **{"grep -rlwF": (1, "", "")})
    journal = Journal.load(tmp_path / "journal.json")
    assert replication.node_local_files(follower, journal) == []

"""Cluster.look_once: every node looked at once per run, a failure that node's alone."""

from pathlib import Path

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.transport.node import Node
from tests.unit.fakes import FakeNode, fake_cluster


def _cluster(tmp_path: Path, nodes: dict[str, FakeNode]) -> Cluster:
    return fake_cluster(tmp_path, nodes, forks=2)


def test_look_once_asks_each_node_once_and_keeps_a_failure_to_its_node(tmp_path: Path) -> None:
    nodes = {
        "fe1": FakeNode("fe1", answers={"ls /probes": (0, "a\nb\n", "")}),
        "fe2": FakeNode("fe2", answers={"ls /probes": (2, "", "ls: denied")}),
        "fe3": FakeNode("fe3", answers={"ls /probes": (0, "", "")}),
    }
    cluster = _cluster(tmp_path, nodes)

    def look(node: Node) -> list[str]:
        return node.run("ls /probes").stdout.split()

    for _ in range(3):  # as three per-node checks of one step would
        seen = cluster.look_once("probes", nodes.values(), look)
    assert seen["fe1"] == ["a", "b"]
    assert seen["fe3"] == []
    assert isinstance(seen["fe2"], CommandFailed)
    assert "ls: denied" in str(seen["fe2"])
    assert [n.ran for n in nodes.values()] == [["ls /probes"]] * 3


def test_outcomes_runs_every_node_even_when_one_fails(tmp_path: Path) -> None:
    nodes = {n: FakeNode(n, answers={"true": (0, "", "")}) for n in ("fe1", "fe2", "fe3")}
    cluster = _cluster(tmp_path, nodes)

    def work(node: Node) -> str:
        if node.name == "fe1":
            raise CommandFailed(node.run("true"))
        return node.run("true").stdout

    got = cluster.outcomes(nodes.values(), work)
    assert isinstance(got["fe1"], CommandFailed)
    assert got["fe2"] == got["fe3"] == ""
    with pytest.raises(Exception, match="fe1"):
        cluster.fan_out(nodes.values(), work)

"""Cluster.look_once: every node looked at once per run, a failure that node's alone."""

from pathlib import Path

import pytest

from oneupgrade.audit.journal import Journal
from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.inventory.load import load_inventory
from oneupgrade.transport.node import Node
from tests.unit.fakes import FakeNode


def _cluster(tmp_path: Path, nodes: dict[str, FakeNode]) -> Cluster:
    inv = tmp_path / "inventory.yml"
    (tmp_path / "kh").write_text("")
    inv.write_text(
        "cluster: c\nzone: 0\ntarget: '7.0'\nssh: {user: root, known_hosts: kh}\n"
        "frontends:\n"
        + "".join(f"  - {{name: {n}, address: 192.0.2.{i + 1}}}\n" for i, n in enumerate(nodes))
        + "hypervisors: []\n"
    )
    return Cluster(load_inventory(inv), dict(nodes), Journal(tmp_path / "j.json"), "run", forks=2)


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

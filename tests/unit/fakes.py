"""A node that answers from a script instead of SSH: the seam for unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from oneupgrade.audit.journal import Journal
from oneupgrade.cluster import Cluster
from oneupgrade.inventory.load import load_inventory
from oneupgrade.inventory.model import Host, SshSettings
from oneupgrade.result import CommandResult
from oneupgrade.transport.node import Node

Answer = tuple[int, str, str] | Callable[[str], tuple[int, str, str]]


class FakeNode(Node):
    def __init__(
        self, name: str = "fe1", role: str = "frontend", answers: dict[str, Answer] | None = None
    ) -> None:
        host = Host(
            name=name,
            address="192.0.2.1",
            port=22,
            user="root",
            role=role,
            hypervisor=None if role == "frontend" else "kvm",
        )
        settings = SshSettings(
            user="root",
            identity_file=None,
            known_hosts=Path("/dev/null"),
            port=22,
            connect_timeout=1,
            command_timeout=5,
            config=None,
            become="none",
            become_password_env=None,
        )
        super().__init__(host, settings)
        self.answers = answers or {}
        self.ran: list[str] = []

    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        check: bool = True,
        mutating: bool = False,
        stdin: bytes | None = None,
        user: str | None = None,
        detach: bool = False,
    ) -> CommandResult:
        self.ran.append(command)
        for prefix, answer in self.answers.items():
            if command.startswith(prefix):
                rc, out, err = answer(command) if callable(answer) else answer
                break
        else:
            raise AssertionError(f"unexpected command on {self.name}: {command}")
        result = CommandResult(self.name, command, rc, out, err, time.time(), 0.0, mutating)
        if check and rc != 0:
            from oneupgrade.errors import CommandFailed

            raise CommandFailed(result)
        return result


def fake_cluster(tmp_path: Path, nodes: dict[str, FakeNode], forks: int = 10) -> Cluster:
    """A Cluster of front-ends that answer from their scripts, with a journal in tmp_path."""
    inv = tmp_path / "inv.yml"
    (tmp_path / "kh").write_text("")
    inv.write_text(
        "cluster: c\nzone: 0\ntarget: '7.0'\nssh: {user: root, known_hosts: kh}\n"
        "frontends:\n"
        + "".join(f"  - {{name: {n}, address: 192.0.2.{i + 1}}}\n" for i, n in enumerate(nodes))
        + "hypervisors: []\n"
    )
    return Cluster(
        load_inventory(inv), dict(nodes), Journal(tmp_path / "j.json"), "run", forks=forks
    )

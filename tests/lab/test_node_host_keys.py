"""The runbook's own SSH client against the lab's real sshd: what known_hosts pins.

An operator's known_hosts is often hashed (`HashKnownHosts yes`) and is parsed once
per run for all nodes; the key of each node must still be the one that decides.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from onelab import Lab
from oneupgrade.errors import HostKeyRejected
from oneupgrade.inventory.load import load_inventory
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.lab


def node(lab: Lab, name: str, known_hosts: Path) -> Node:
    inventory = load_inventory(lab.inventory_path)
    host = next(h for h in inventory.nodes if h.name == name)
    return Node(host, dataclasses.replace(inventory.ssh, known_hosts=known_hosts))


def hashed_copy(lab: Lab, path: Path) -> Path:
    path.write_text(lab.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True)
    assert "|1|" in path.read_text()
    return path


def test_a_hashed_known_hosts_pins_every_node(lab: Lab, tmp_path: Path) -> None:
    known = hashed_copy(lab, tmp_path / "known_hosts")
    for name in ("fe1", "hv2"):
        n = node(lab, name, known)
        try:
            assert n.run("hostname").stdout.strip() == name
        finally:
            n.close()


def test_another_nodes_key_in_a_hashed_file_is_refused(lab: Lab, tmp_path: Path) -> None:
    lines = lab.known_hosts.read_text().splitlines()
    keys = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    fe1, fe2 = f"[{lab.nodes['fe1']}]:{lab.port}", f"[{lab.nodes['fe2']}]:{lab.port}"
    known = tmp_path / "known_hosts"
    known.write_text(f"{fe1} {keys[fe2]}\n{fe2} {keys[fe2]}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    with pytest.raises(HostKeyRejected, match=r"fe1.*CHANGED"):
        node(lab, "fe1", known).connect()
    n = node(lab, "fe2", known)  # the same file still pins fe2
    try:
        n.connect()
    finally:
        n.close()


def test_an_edited_known_hosts_is_read_again(lab: Lab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(HostKeyRejected, match="not in"):
        node(lab, "hv1", known).connect()
    hashed_copy(lab, known)
    os.utime(known, ns=(1, 1))  # a different mtime whatever the clock's resolution
    n = node(lab, "hv1", known)
    try:
        n.connect()
    finally:
        n.close()

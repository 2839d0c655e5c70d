"""Clients trust exactly the lab's known_hosts."""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko
import pytest

from onelab import Lab

pytestmark = pytest.mark.lab


def connect_with(lab: Lab, name: str, known_hosts: Path) -> paramiko.SSHClient:
    address = lab.nodes[name]
    sock = socket.create_connection((address, lab.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            address,
            port=lab.port,
            username="root",
            key_filename=str(lab.identity),
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
            sock=sock,
        )
    except BaseException:
        client.close()
        raise
    return client


def test_the_lab_known_hosts_is_accepted(lab: Lab) -> None:
    connect_with(lab, "fe1", lab.known_hosts).close()


def test_a_wrong_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    lines = lab.known_hosts.read_text().splitlines()
    by_host = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    fe1, fe2 = f"[{lab.nodes['fe1']}]:{lab.port}", f"[{lab.nodes['fe2']}]:{lab.port}"
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{fe1} {by_host[fe2]}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect_with(lab, "fe1", wrong)


def test_an_unknown_host_is_refused(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect_with(lab, "hv1", empty)


def test_node_to_node_ssh_checks_host_keys_strictly(lab: Lab) -> None:
    rc, _, err = lab.run("fe1", "ssh -o UserKnownHostsFile=/dev/null fe2 true")
    assert rc == 255
    assert "Host key verification failed" in err

"""Each node is its own machine: files, hostname, identity; the host is never written."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from onelab import Lab

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("directory", ["/tmp", "/etc", "/var/lib/one", "/root", "/opt", "/usr"])
def test_a_file_written_on_one_node_is_seen_nowhere_else(lab: Lab, directory: str) -> None:
    path = f"{directory}/isolation-{uuid.uuid4().hex}"
    rc, _, err = lab.run("fe1", f"mkdir -p {directory} && echo fe1 > {path} && cat {path}")
    assert rc == 0, err
    for other in ("fe2", "hv1"):
        rc, out, _ = lab.run(other, f"test -e {path}; echo $?")
        assert out.strip() == "1", f"{path} written on fe1 is visible on {other}"
    assert not os.path.exists(path), f"{path} written on fe1 is visible on the host"
    assert (lab.upper("fe1") / path.lstrip("/")).exists() or directory == "/tmp"


def test_nodes_have_their_own_hostname_and_identity(lab: Lab) -> None:
    for spec in lab.specs:
        rc, out, err = lab.run(spec.name, "hostname; cat /etc/one-lab/node.json")
        assert rc == 0, err
        hostname, _, node_json = out.partition("\n")
        assert hostname == spec.name
        identity = json.loads(node_json)
        assert identity["name"] == spec.name
        assert identity["address"] == lab.nodes[spec.name]
        assert identity["role"] == ("frontend" if spec.name.startswith("fe") else "hypervisor")


def test_sessions_see_a_clean_environment(lab: Lab) -> None:
    rc, out, err = lab.run("fe2", 'echo "$PATH"; id -un; getent passwd oneadmin; echo $HOME')
    assert rc == 0, err
    path, user, oneadmin, home = out.splitlines()
    assert path == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert user == "root"
    assert oneadmin == "oneadmin:x:9869:9869:OpenNebula:/var/lib/one:/bin/bash"
    assert home == "/root"


def test_nodes_have_a_private_run_and_tmp(lab: Lab) -> None:
    rc, out, err = lab.run("hv2", "findmnt -rn -o FSTYPE /run; findmnt -rn -o TARGET /tmp; ls /run")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "tmpfs"
    assert lines[1] == "/tmp"
    assert {"sshd", "lock"} <= set(lines[2:])

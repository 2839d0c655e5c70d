"""Node-to-node ssh, rsync and scp as root really copy between the nodes' file systems."""

from __future__ import annotations

import os
import uuid

import pytest

from onelab import Lab

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    "copy",
    [
        "rsync -a {src} root@{dst}:{dstdir}/",
        "scp -p {src} root@{dst}:{dstdir}/",
        "rsync -a {src} fe2:{dstdir}/",
    ],
)
def test_a_copy_from_fe1_lands_on_fe2_only(lab: Lab, copy: str) -> None:
    name = f"copy-{uuid.uuid4().hex}"
    src, dstdir = f"/var/lib/one/{name}", "/var/lib/one"
    command = copy.format(src=src, dst=lab.nodes["fe2"], dstdir=dstdir)
    rc, out, err = lab.run(
        "fe1",
        f"mkdir -p /var/lib/one && echo payload > {src} && chown oneadmin:oneadmin {src} && "
        f"ssh {lab.nodes['fe2']} mkdir -p {dstdir} && {command}",
    )
    assert rc == 0, out + err
    rc, out, err = lab.run("fe2", f"stat -c '%U %s' {dstdir}/{name}; cat {dstdir}/{name}")
    owner = "oneadmin" if copy.startswith("rsync") else "root"  # scp does not keep owners
    assert (rc, out) == (0, f"{owner} 8\npayload\n"), err
    rc, out, _ = lab.run("fe3", f"test -e {dstdir}/{name}; echo $?")
    assert out == "1\n"
    assert not os.path.exists(f"{dstdir}/{name}")


def test_node_to_node_ssh_comes_from_the_node_address(lab: Lab) -> None:
    rc, out, err = lab.run("hv1", "ssh fe3 'hostname; echo $SSH_CLIENT'")
    assert rc == 0, err
    hostname, client = out.splitlines()
    assert hostname == "fe3"
    assert client.split()[0] == lab.nodes["hv1"]

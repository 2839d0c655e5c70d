"""The operator's world (issue #8): a one-deploy inventory, an ssh config with ProxyJump, a
non-root login with sudo and a password, live progress, and hypervisors upgraded in waves.
Each test runs the real runbook in a subprocess against a small lab of real sshd nodes."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from onelab import Lab
from onelab.inventory_file import SUDO_PASSWORD_ENV
from onelab.keys import new_ed25519, write_private
from oneupgrade.errors import AuthenticationFailed, ConnectionFailed
from oneupgrade.inventory.load import load_inventory
from oneupgrade.transport.gateways import Gateways
from oneupgrade.transport.node import Node
from tests.e2e.conftest import LabFactory
from tests.e2e.runner import (
    CmdlineWatch,
    Run,
    assert_healthy_at,
    hosts,
    package_version,
    run_runbook,
    server_ids,
    sh,
)

PASSWORD = "Corr3ct-H0rse-battery"  # the lab admin's sudo password


def _enabled(lab: Lab) -> set[str]:
    return {h["NAME"] for h in hosts(lab) if h["STATE"] not in ("4", "8")}


def _journal(report_dir: Path, cluster: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report_dir / cluster / "journal.json").read_text())
    return data


def _one_deploy_inventory(lab: Lab, path: Path, *, key: bool = True) -> Path:
    """An inventory as one-deploy's examples write them (`key`: with its key file)."""
    specs = {s.name: s for s in lab.specs}
    variables: dict[str, object] = {
        "ansible_user": "root",
        "ansible_port": lab.port,
        "one_version": "7.0",
        "one_vip": lab.info["vip"],
        "one_pass": "opennebulapass",
        "features": {"prometheus": False},
    }
    if key:
        variables["ansible_ssh_private_key_file"] = str(lab.identity)
    one_deploy = {
        "all": {"vars": variables},
        "frontend": {
            "hosts": {n: {"ansible_host": s.address} for n, s in specs.items() if s.frontend}
        },
        "node": {
            "hosts": {n: {"ansible_host": s.address} for n, s in specs.items() if not s.frontend}
        },
        "grafana": {"hosts": {"fe1": {"ansible_host": specs["fe1"].address}}},
    }
    path.write_text(yaml.safe_dump(one_deploy, sort_keys=False))
    return path


def test_a_one_deploy_inventory_upgrades_a_lab(
    make_lab: LabFactory, report_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab(frontends=2, hypervisors=1, version="6.10")
    ids, enabled = server_ids(lab), _enabled(lab)
    path = _one_deploy_inventory(lab, tmp_path / "prod-one-deploy.yml")
    # A one-deploy inventory names no known_hosts: the variable does (HOME is a temp dir).
    monkeypatch.setenv("ONEUPGRADE_KNOWN_HOSTS", str(lab.known_hosts))

    run = run_runbook(lab, report_dir, inventory=path)
    assert run.returncode == 0, run.output
    assert "cluster prod-one-deploy," in run.stdout  # the file's stem names the cluster
    assert_healthy_at(lab, "7.0", ids, enabled)
    assert _journal(report_dir, "prod-one-deploy")["campaign"]["completed"]


def test_with_no_key_file_anywhere_the_default_identities_of_openssh_are_tried(
    make_lab: LabFactory, report_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual one-deploy inventory names no key: Ansible and OpenSSH use ~/.ssh's."""
    lab = make_lab(frontends=2, hypervisors=1, version="6.10")
    ids, enabled = server_ids(lab), _enabled(lab)
    path = _one_deploy_inventory(lab, tmp_path / "prod.yml", key=False)
    monkeypatch.setenv("ONEUPGRADE_KNOWN_HOSTS", str(lab.known_hosts))
    dot_ssh = Path(os.environ["HOME"]) / ".ssh"  # the test's own HOME, no ssh-agent
    dot_ssh.mkdir(mode=0o700)

    def refused(run: Run, *expected: str) -> None:
        assert run.returncode != 0, run.output
        report = run.html.read_text() if run.html else ""
        for noise in ("paramiko", "Socket exception", "Traceback"):
            assert noise not in run.output, noise
            assert noise not in report, noise
        lines = [ln for ln in run.output.splitlines() if all(e in ln for e in expected)]
        assert lines, run.output[-3000:]
        assert run.commands(mutating=True) == []

    # no key anywhere: one line naming what was looked for, nothing touched
    run = run_runbook(lab, report_dir, inventory=path)
    refused(run, "no key to offer as 'root'", "no ssh-agent", f"under {dot_ssh}", "identity_file")
    # a default identity the nodes do not know: refused, naming the key offered
    other, _ = new_ed25519("someone-else")
    write_private(dot_ssh / "id_rsa", other)
    run = run_runbook(lab, report_dir, inventory=path)
    refused(run, "refused user 'root'", f"offered {dot_ssh}/id_rsa")
    assert package_version(lab, "fe1", "opennebula").startswith("6.10.")
    # the operator's key as ~/.ssh/id_ed25519 (tried after id_rsa, as OpenSSH does)
    write_private(dot_ssh / "id_ed25519", lab.identity.read_bytes())
    run = run_runbook(lab, report_dir, inventory=path)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)

    # the key only in OpenSSH's own ssh-agent: offered from there
    (dot_ssh / "id_ed25519").unlink()
    agent_socket = tmp_path / "agent.sock"
    agent_argv = ["ssh-agent", "-D", "-a", str(agent_socket)]
    agent = subprocess.Popen(agent_argv, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if agent_socket.exists():
                break
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(agent_socket))
        subprocess.run(["ssh-add", "-q", str(lab.identity)], check=True, capture_output=True)
        run = run_runbook(lab, report_dir, "--dry-run", inventory=path)
        assert run.returncode == 0, run.output
        assert "audit log signed:" in run.stdout  # through the agent too
        # IdentitiesOnly yes: the agent's keys are not offered, the (wrong) id_rsa is
        (dot_ssh / "config").write_text("Host *\n  IdentitiesOnly yes\n")
        run = run_runbook(lab, report_dir, "--dry-run", inventory=path)
        refused(run, "refused user 'root'", f"(offered {dot_ssh}/id_rsa)")
    finally:
        agent.terminate()  # by its pid
        agent.wait(timeout=10)


def test_front_ends_behind_a_jump_host_are_upgraded_through_proxyjump(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=2, hypervisors=1, jump=True, login_user="admin")
    assert lab.jump is not None
    # Really closed: from this machine nothing answers on a node's address...
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((lab.address("fe1"), lab.port), timeout=2).close()
    # ... while the jump node does.
    socket.create_connection((lab.jump["address"], lab.port), timeout=2).close()
    inventory = load_inventory(lab.inventory_path)
    assert inventory.ssh.config == lab.ssh_config
    assert inventory.frontends[0].address == "fe1"  # a Host alias of the ssh config
    # Without the ssh config, even at its real address, fe1 refuses the connection.
    fe1 = dataclasses.replace(inventory.frontends[0], address=lab.address("fe1"))
    direct = Node(fe1, dataclasses.replace(inventory.ssh, config=None))
    with pytest.raises(ConnectionFailed, match=r"(?i)connection refused"):
        direct.connect(attempts=1)

    # Through the jump host: one connection to it, shared by every node behind it.
    gateways = Gateways()
    nodes = [Node(h, inventory.ssh, gateways=gateways) for h in inventory.nodes]
    try:
        threads = [threading.Thread(target=n.connect) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gateways.opened == 1
        assert [n.run("hostname").stdout.strip() for n in nodes] == ["fe1", "fe2", "hv1"]
        assert nodes[0].run("id -un").stdout.strip() == "root"  # admin, then sudo
    finally:
        for n in nodes:
            n.close()

    ids, enabled = server_ids(lab), _enabled(lab)
    log = lab.dir / "nodes" / "jump1" / "sshd.log"
    before = log.read_text().count("Accepted publickey for admin")
    run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)
    # The runbook logged in to the jump host once for the three nodes behind it.
    assert log.read_text().count("Accepted publickey for admin") - before == 1


def test_a_sudo_login_with_a_password_upgrades_and_the_password_appears_nowhere(
    make_lab: LabFactory, report_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab(
        frontends=2,
        hypervisors=1,
        login_user="admin",
        sudo_password=PASSWORD,
        latencies={"apt-get install": 0.5},  # commands under sudo that last: the watch sees them
    )
    inventory = load_inventory(lab.inventory_path)
    assert (inventory.ssh.user, inventory.ssh.become) == ("admin", "sudo")
    assert inventory.ssh.become_password_env == SUDO_PASSWORD_ENV

    # Without the password: a usage error before anything runs.
    monkeypatch.delenv(SUDO_PASSWORD_ENV, raising=False)
    refused = run_runbook(lab, report_dir)
    assert refused.returncode == 4, refused.output
    assert f"${SUDO_PASSWORD_ENV}, which is not set" in refused.output
    assert refused.audit == []

    # The SSH layer itself: the password first on stdin, then a command's own data intact;
    # oneadmin's commands through sudo and runuser; a wrong password refused at connect.
    fe1 = inventory.frontends[0]
    node = Node(fe1, inventory.ssh, become_password=PASSWORD)
    try:
        data = "line one\n\nno newline at the end: \x01 ü"
        node.write_file("/tmp/pushed", data)
        assert sh(lab, "fe1", "cat /tmp/pushed") == data
        assert sh(lab, "fe1", "stat -c %U /tmp/pushed").strip() == "root"
        assert node.run("cat", stdin=b"a\nb\n").stdout == "a\nb\n"
        assert node.run("id -un", user="oneadmin").stdout.strip() == "oneadmin"
        assert node.run("id -un").stdout.strip() == "root"
    finally:
        node.close()
    wrong = Node(fe1, inventory.ssh, become_password="not-the-password")
    with pytest.raises(AuthenticationFailed, match="sudo refused the password"):
        wrong.connect(attempts=1)

    monkeypatch.setenv(SUDO_PASSWORD_ENV, PASSWORD)
    ids, enabled = server_ids(lab), _enabled(lab)
    with CmdlineWatch(PASSWORD) as watch:
        run = run_runbook(lab, report_dir)
    assert run.returncode == 0, run.output
    assert_healthy_at(lab, "7.0", ids, enabled)

    assert watch.hits == [], watch.hits
    assert watch.sudo_seen > 0, f"the watch never saw a sudo ({watch.samples} samples)"
    assert PASSWORD not in run.stdout
    assert PASSWORD not in run.stderr
    written = [p for p in (report_dir / lab.info["cluster"]).iterdir() if p.is_file()]
    assert {p.suffix for p in written} >= {".html", ".jsonl", ".json"}
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in lab.inventory_path.read_text()
    assert PASSWORD not in (lab.dir / "lab.json").read_text()


def test_live_progress_lines_follow_pytest_verbosity(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=2)
    run = run_runbook(lab, report_dir, "--dry-run")
    assert run.returncode == 0, run.output
    lines = run.stdout.splitlines()
    # -v: each node's start and finish, with counts, each a line of its own
    assert any(line.startswith("  step 0: ") and "started (" in line for line in lines)
    assert any(line.startswith("  step 0: ") and line.endswith(" done (3/3)") for line in lines)
    assert any(line.startswith("  step 9: hv") and line.endswith(" done (2/2)") for line in lines)
    quiet = run_runbook(lab, report_dir, "--dry-run", "-qq")  # the runner passes -v
    assert quiet.returncode == 0, quiet.output
    progress = [line for line in quiet.stdout.splitlines() if line.startswith("  step ")]
    assert progress, quiet.stdout
    assert all(line.endswith(" done") and "/" in line for line in progress), progress


def test_hypervisors_upgraded_in_waves_complete_the_campaign(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=2)
    ids, enabled = server_ids(lab), _enabled(lab)
    cluster = lab.info["cluster"]

    unknown = run_runbook(lab, report_dir, "--hypervisors", "hv1,kvm*")
    assert unknown.returncode == 4, unknown.output
    assert "'kvm*' matches no hypervisor" in unknown.output
    assert unknown.audit == []

    first = run_runbook(lab, report_dir, "--hypervisors", "hv1")
    assert first.returncode == 0, first.output
    assert package_version(lab, "hv1", "opennebula-node-kvm").startswith("7.0.")
    assert package_version(lab, "hv2", "opennebula-node-kvm").startswith("6.10.")
    campaign = _journal(report_dir, cluster)["campaign"]
    assert not campaign.get("completed")
    assert [w["hypervisors"] for w in campaign["facts"]["waves"]] == [["hv1"]]
    notes = [r.get("text", "") for r in first.audit if r.get("kind") == "note"]
    assert any("1 hypervisor(s) left for a later wave (hv2)" in n for n in notes), notes
    # hv2 still runs the old node package: kept OFFLINE, so neither monitoring nor
    # `onehost sync` gave it the new drivers; only hv1 was synced, by its id
    time.sleep(2)  # a monitoring cycle or two after the front-ends started
    by_name = {h["NAME"]: h for h in hosts(lab)}
    assert by_name["hv2"]["STATE"] == "8"
    assert by_name["hv2"]["TEMPLATE"]["VERSION"].startswith("6.10."), by_name["hv2"]
    assert by_name["hv1"]["TEMPLATE"]["VERSION"].startswith("7.0."), by_name["hv1"]
    # no changing command of the first wave's run reached hv2
    assert [c["command"] for c in first.commands(mutating=True) if c["node"] == "hv2"] == []
    syncs = [c["command"] for c in first.commands(mutating=True) if "onehost sync" in c["command"]]
    assert all(c.endswith(f"onehost sync {by_name['hv1']['ID']}") for c in syncs), syncs

    second = run_runbook(lab, report_dir, "--hypervisors", "hv*")
    assert second.returncode == 0, second.output
    # Steps 0-8 found the control plane upgraded and changed nothing.
    early = [c for c in second.commands(mutating=True) if not str(c["step"]).startswith("09")]
    assert early == [], [(c["step"], c["command"]) for c in early]
    campaign = _journal(report_dir, cluster)["campaign"]
    assert campaign.get("completed")
    waves = campaign["facts"]["waves"]
    assert [w["hypervisors"] for w in waves] == [["hv1"], ["hv2"]]
    assert waves[0]["run"] != waves[1]["run"]
    assert_healthy_at(lab, "7.0", ids, enabled)

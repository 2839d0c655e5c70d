"""The command line: up/down/status/fault/node, inventory, keys; errors are one line, exit 2."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab
Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_up_status_node_down(lab_cli: Cli, tmp_path: Path) -> None:
    lab_dir = tmp_path / "cli"
    up = lab_cli("up", "--dir", str(lab_dir), "--frontends", "2", "--hypervisors", "1")
    try:
        assert up.returncode == 0, up.stderr
        inventory_path = Path(up.stdout.splitlines()[-1])
        assert inventory_path == lab_dir.resolve() / "inventory.yml"
        inv = yaml.safe_load(inventory_path.read_text())
        assert list(inv) == [
            "cluster", "zone", "target", "vip", "ssh", "frontends", "hypervisors",
        ]  # fmt: skip
        prefix = inv["frontends"][0]["address"].rsplit(".", 1)[0]
        assert inv["cluster"] == f"lab-{prefix.rsplit('.', 1)[1]}"
        assert inv["zone"] == 0
        assert inv["target"] == "7.0"
        assert inv["vip"] == f"{prefix}.250"
        assert inv["ssh"] == {
            "user": "root", "identity_file": "id_ed25519", "known_hosts": "known_hosts",
            "port": 2222,
        }  # fmt: skip
        assert inv["frontends"] == [
            {"name": "fe1", "address": f"{prefix}.1"},
            {"name": "fe2", "address": f"{prefix}.2"},
        ]
        assert inv["hypervisors"] == [
            {"name": "hv1", "address": f"{prefix}.11", "hypervisor": "kvm"}
        ]
        lines = (lab_dir / "known_hosts").read_text().splitlines()
        assert [line.split()[:2] for line in lines] == [
            [f"[{prefix}.{n}]:2222", "ssh-ed25519"] for n in (1, 2, 11)
        ]
        assert stat.S_IMODE((lab_dir / "id_ed25519").stat().st_mode) == 0o600
        assert (lab_dir / "id_ed25519.pub").read_text().startswith("ssh-ed25519 ")

        status = lab_cli("status", "--dir", str(lab_dir), "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert {name: v["up"] for name, v in report["sshd"].items()} == {
            "fe1": True, "fe2": True, "hv1": True,
        }  # fmt: skip

        assert lab_cli("node", "--dir", str(lab_dir), "stop", "fe2").returncode == 0
        report = json.loads(lab_cli("status", "--dir", str(lab_dir), "--json").stdout)
        assert report["sshd"]["fe2"] == {"pid": None, "up": False}
        started = lab_cli("node", "--dir", str(lab_dir), "start", "fe2")
        assert started.returncode == 0, started.stderr
        report = json.loads(lab_cli("status", "--dir", str(lab_dir), "--json").stdout)
        assert report["sshd"]["fe2"]["up"] is True

        fault = lab_cli("fault", "--dir", str(lab_dir), "--node", "fe1", "--command", "echo x")
        assert fault.returncode == 0, fault.stderr
        cleared = lab_cli("fault", "--dir", str(lab_dir), "--clear")
        assert cleared.returncode == 0, cleared.stderr
    finally:
        down = lab_cli("down", "--dir", str(lab_dir))
    assert down.returncode == 0, down.stderr
    assert "stopped 3 node namespace(s)" in down.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--frontends", "9"],
        ["up", "--hypervisors", "201"],
        ["up", "--version", "5.0"],
        ["up", "--base-address", "10.0.0.0"],
        ["up", "--latency", "nonsense"],
        ["status"],
        ["fault", "--node", "fe1"],
        ["node", "stop", "fe1"],
        ["up", "--os", "windows"],
        ["up", "--db", "mysql"],  # the simulation's front-ends are MySQL's already
        ["up", "--db", "oracle", "--opennebula", "real"],
    ],
)
def test_errors_are_one_line_and_exit_2(lab_cli: Cli, tmp_path: Path, args: list[str]) -> None:
    result = lab_cli(*args[:1], "--dir", str(tmp_path / "nolab"), *args[1:])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_lab_dir_under_an_overlaid_directory_is_refused(lab_cli: Cli) -> None:
    result = lab_cli("up", "--dir", "/var/tmp/oneupgrade-lab-refused")
    assert result.returncode == 2
    assert "must not be under /var" in result.stderr

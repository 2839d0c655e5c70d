"""`hypervisors: discover`: the hypervisors are read from `onehost list`, not the inventory."""

from pathlib import Path

import yaml

from tests.e2e.conftest import LabFactory
from tests.e2e.runner import assert_healthy_at, hosts, run_runbook, server_ids


def test_discovered_hypervisors_are_upgraded_and_resumed(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=2)
    ids = server_ids(lab)
    enabled = {h["NAME"] for h in hosts(lab)}
    # OpenNebula knows its hosts by name; the operator's ssh config says where they are.
    config = lab.dir / "ssh_config"
    config.write_text(
        "".join(
            f"Host {name}\n    HostName {address}\n    Port {lab.port}\n"
            for name, address in lab.nodes.items()
            if name.startswith("hv")
        )
    )
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["hypervisors"] = "discover"
    data["ssh"]["config"] = "ssh_config"
    inventory = lab.dir / "discover.yml"
    inventory.write_text(yaml.safe_dump(data))
    lab.fault("hv2", "apt-get install", times=1, action="exit", exit_code=100)
    first = run_runbook(lab, report_dir, inventory=inventory)
    assert first.returncode == 1
    # both were found and worked on, though the inventory names none
    assert {r["node"] for r in first.commands()} >= {"hv1", "hv2"}
    assert "failed on 1 node(s): hv2" in first.output
    lab.clear_faults()
    resumed = run_runbook(lab, report_dir, "--lf", inventory=inventory)
    assert resumed.returncode == 0, resumed.output
    touched = {r["node"] for r in resumed.commands(mutating=True) if r["node"].startswith("hv")}
    assert touched == {"hv2"}
    assert_healthy_at(lab, "7.0", ids, enabled)

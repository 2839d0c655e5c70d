"""A one-deploy (Ansible) inventory is read as is, into the same model as the native one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oneupgrade.inventory.document import InventoryError
from oneupgrade.inventory.load import load_inventory
from oneupgrade.inventory.onedeploy import is_onedeploy

REPO = Path(__file__).resolve().parents[2]

FLAT = """\
all:
  vars:
    ansible_user: root
    one_version: '7.0'
    one_vip: 10.11.12.69
    one_pass: opennebulapass
frontend:
  hosts:
    f1: {ansible_host: 10.11.12.10}
    f2: {ansible_host: 10.11.12.11}
    f3: {ansible_host: 10.11.12.12}
node:
  hosts:
    n1: {ansible_host: 10.11.12.40}
    n2: {ansible_host: 10.11.12.41}
"""

NESTED = """\
all:
  vars:
    ansible_user: ubuntu
    ansible_become: true
    one_version: "6.10"
  children:
    frontend:
      vars: {ansible_port: 2222}
      hosts:
        f1: {ansible_host: 10.0.0.1}
        f2: {ansible_host: 10.0.0.2, ansible_user: admin, ansible_port: "2200"}
    node:
      hosts:
        n1:
        n2: {ansible_host: 10.0.0.21}
    bastion:
      hosts: {b1: {ansible_host: "{{ lookup('env', 'BASTION') }}"}}
    grafana:
      hosts: {f1: null}
    router:
      hosts: {r1: {ansible_host: 10.0.0.99}}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    known = tmp_path / "pinned_keys"
    known.write_text("")
    monkeypatch.setenv("ONEUPGRADE_KNOWN_HOSTS", str(known))
    key = tmp_path / "id_ed25519"
    key.write_text("")
    key.chmod(0o600)
    monkeypatch.chdir(tmp_path)  # Ansible reads a relative key path from the working dir
    return tmp_path


def write(site: Path, text: str, name: str = "prod-east.yml") -> Path:
    path = site / name
    path.write_text(text)
    return path


def fail(site: Path, text: str, **kwargs: str) -> str:
    path = write(site, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message.removeprefix(f"{path}:")


def test_flat_inventory(site: Path) -> None:
    inv = load_inventory(write(site, FLAT))
    assert inv.format == "one-deploy"
    assert (inv.cluster, inv.zone, inv.target, inv.vip, inv.proxy) == (
        "prod-east",
        0,
        "7.0",
        "10.11.12.69",
        "auto",
    )
    assert inv.ssh.known_hosts == site / "pinned_keys"
    assert (inv.ssh.user, inv.ssh.port, inv.ssh.identity_file) == ("root", 22, None)
    assert [(h.name, h.address, h.role) for h in inv.frontends] == [
        ("f1", "10.11.12.10", "frontend"),
        ("f2", "10.11.12.11", "frontend"),
        ("f3", "10.11.12.12", "frontend"),
    ]
    assert [(h.name, h.hypervisor) for h in inv.hypervisors] == [("n1", "kvm"), ("n2", "kvm")]
    assert not inv.discover_hypervisors


def test_nested_inventory_with_group_and_host_vars(site: Path) -> None:
    inv = load_inventory(write(site, NESTED))
    assert inv.target == "6.10"
    assert inv.ssh.become == "sudo"
    f1, f2 = inv.frontends
    assert (f1.user, f1.port) == ("ubuntu", 2222)  # all.vars user, group port
    assert (f2.user, f2.port) == ("admin", 2200)  # host vars win; "2200" is a port
    n1, n2 = inv.hypervisors
    assert (n1.address, n1.port) == ("n1", 22)  # no ansible_host: the inventory name
    assert n2.address == "10.0.0.21"
    # bastion, grafana and router are ignored, templated values there included
    assert [h.name for h in inv.nodes] == ["f1", "f2", "n1", "n2"]


def test_target_override_wins_over_one_version(site: Path) -> None:
    assert load_inventory(write(site, FLAT), target_override="7.2").target == "7.2"
    no_version = FLAT.replace("    one_version: '7.0'\n", "")
    assert load_inventory(write(site, no_version), target_override="7.0.1").target == "7.0.1"


def test_missing_one_version(site: Path) -> None:
    text = FLAT.replace("    one_version: '7.0'\n", "")
    assert fail(site, text) == (
        "2: all.vars.one_version: missing; set one_version to the target release or pass --target"
    )


def test_unknown_one_version(site: Path) -> None:
    message = fail(site, FLAT.replace("'7.0'", "'5.12'"))
    assert message.startswith("4: all.vars.one_version: '5.12' is not a release this tool knows")


def test_key_file_relative_to_working_directory(site: Path) -> None:
    text = FLAT.replace(
        "    ansible_user: root\n", "    ansible_ssh_private_key_file: id_ed25519\n"
    )
    inv = load_inventory(write(site, text))
    assert inv.ssh.identity_file == site / "id_ed25519"


def test_world_readable_key(site: Path) -> None:
    (site / "id_ed25519").chmod(0o604)
    text = FLAT.replace(
        "    ansible_user: root\n", "    ansible_ssh_private_key_file: id_ed25519\n"
    )
    message = fail(site, text)
    assert message.startswith("3: all.vars.ansible_ssh_private_key_file: ")
    assert message.endswith(f"chmod 600 {site / 'id_ed25519'}")


def test_different_keys_per_host_are_refused(site: Path) -> None:
    other = site / "other_key"
    other.write_text("")
    other.chmod(0o600)
    text = FLAT.replace(
        "    f2: {ansible_host: 10.11.12.11}",
        "    f2: {ansible_host: 10.11.12.11, ansible_ssh_private_key_file: other_key}",
    ).replace("    ansible_user: root\n", "    ansible_ssh_private_key_file: id_ed25519\n")
    message = fail(site, text)
    assert message.startswith("10: frontend.hosts.f2.ansible_ssh_private_key_file: ")
    assert "one SSH key for every node" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "    one_vip: 10.11.12.69",
            '    one_vip: "{{ one_vip_base | ansible.utils.ipmath(10) }}"',
            "5: all.vars.one_vip: templated values cannot be used",
            id="jinja-vip",
        ),
        pytest.param(
            "    one_version: '7.0'",
            "    one_version: '{{ version }}'",
            "4: all.vars.one_version: templated values cannot be used",
            id="jinja-version",
        ),
        pytest.param(
            "    f2: {ansible_host: 10.11.12.11}",
            "    f2: {ansible_host: '{% if x %}a{% endif %}'}",
            "10: frontend.hosts.f2.ansible_host: templated values cannot be used",
            id="jinja-host",
        ),
        pytest.param(
            "    ansible_user: root",
            '    ansible_user: \'{{ lookup("env", "USER") }}\'',
            "3: all.vars.ansible_user: templated values cannot be used",
            id="jinja-user",
        ),
        pytest.param(
            "node:",
            "nodes:",
            "12: nodes: unknown group 'nodes'; did you mean 'node'?",
            id="unknown-group-close",
        ),
        pytest.param(
            "node:",
            "ceph:",
            "12: ceph: unknown group 'ceph'; this tool reads frontend and node",
            id="unknown-group",
        ),
        pytest.param(
            "    n1: {ansible_host: 10.11.12.40}",
            "    f1: {ansible_host: 10.11.12.40}",
            "14: node.hosts.f1: 'f1' is also listed at line 9 (frontend.hosts.f1)",
            id="frontend-and-node",
        ),
        pytest.param(
            "    n1: {ansible_host: 10.11.12.40}",
            "    n1: {ansible_host: 10.11.12.10}",
            "14: node.hosts.n1.ansible_host: duplicate address 10.11.12.10:22",
            id="duplicate-address",
        ),
        pytest.param(
            "    n1: {ansible_host: 10.11.12.40}",
            "    n1: {ansible_host: 10.11.12.40, ansible_port: [22]}",
            "14: node.hosts.n1.ansible_port: must be a port number",
            id="bad-port",
        ),
        pytest.param(
            "    n1: {ansible_host: 10.11.12.40}",
            "    n1: {ansible_host: !vault secret}",
            "14: node.hosts.n1.ansible_host: !vault values cannot be used",
            id="vault-host",
        ),
        pytest.param(
            "    n1: {ansible_host: 10.11.12.40}",
            "    n1 x: {ansible_host: 10.11.12.40}",
            "14: node.hosts.n1 x: invalid host name 'n1 x'",
            id="bad-host-name",
        ),
    ],
)
def test_bad_onedeploy_inventory(site: Path, old: str, new: str, expected: str) -> None:
    assert old in FLAT
    message = fail(site, FLAT.replace(old, new, 1))
    assert message.startswith(expected), message


def test_templated_value_in_an_unused_var_is_fine(site: Path) -> None:
    text = FLAT.replace("    one_pass: opennebulapass", "    one_pass: '{{ vault_one_pass }}'")
    assert load_inventory(write(site, text)).secrets == ()


def test_vault_value_in_an_unused_var_is_fine(site: Path) -> None:
    text = FLAT.replace("    one_pass: opennebulapass", "    one_pass: !vault |\n      $ANSIBLE")
    assert load_inventory(write(site, text)).target == "7.0"


def test_secrets_are_kept_for_the_redactor_but_never_shown(site: Path) -> None:
    text = FLAT.replace(
        "    one_pass: opennebulapass",
        "    one_pass: opennebulapass\n    one_token: 'acme:abcdef123'",
    )
    inv = load_inventory(write(site, text))
    assert set(inv.secrets) == {"opennebulapass", "acme:abcdef123", "abcdef123"}
    assert "opennebulapass" not in repr(inv)


def test_hosts_directly_under_all(site: Path) -> None:
    text = "all:\n  hosts:\n    x1: {ansible_host: 10.0.0.1}\n" + FLAT.removeprefix("all:\n")
    assert fail(site, text).startswith("2: all.hosts: hosts directly under all belong to no group")


def test_no_frontend_group(site: Path) -> None:
    text = "all:\n  vars: {one_version: '7.0'}\nnode:\n  hosts: {n1: {ansible_host: 10.0.0.1}}\n"
    assert fail(site, text).startswith("1: no frontend group")


def test_renamed_groups(site: Path) -> None:
    text = FLAT.replace("    ansible_user: root", "    ansible_user: root\n    node_group: kvm")
    text = text.replace("node:\n", "kvm:\n")
    assert [h.name for h in load_inventory(write(site, text)).hypervisors] == ["n1", "n2"]


def test_known_hosts_default_and_missing(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONEUPGRADE_KNOWN_HOSTS")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    message = fail(site, FLAT)
    assert message.startswith(" known_hosts: ")
    assert "set ONEUPGRADE_KNOWN_HOSTS" in message
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "known_hosts").write_text("")
    inv = load_inventory(write(site, FLAT))
    assert inv.ssh.known_hosts == tmp_path / "home" / ".ssh" / "known_hosts"


def test_cluster_name_is_the_file_stem(site: Path) -> None:
    path = write(site, FLAT, "bad name.yml")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value).startswith(
        f"{path}: cluster: the file name 'bad name' names the cluster"
    )


def test_become_method_other_than_sudo(site: Path) -> None:
    text = NESTED.replace(
        "    ansible_become: true", "    ansible_become: true\n    ansible_become_method: su"
    )
    assert fail(site, text).startswith("5: all.vars.ansible_become_method: 'su' is not supported")


def test_example_file_loads(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = site / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("")
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    shutil.copy(REPO / "inventory" / "one-deploy.yml", site / "one-deploy.yml")
    inv = load_inventory(site / "one-deploy.yml")
    assert inv.cluster == "one-deploy"
    assert inv.ssh.identity_file == home / ".ssh" / "id_ed25519"
    assert [h.name for h in inv.nodes] == ["f1", "f2", "f3", "n1", "n2"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"all": {"vars": {}}}, True),
        ({"all": {"children": {}}}, True),
        ({"frontend": {}}, True),
        ({"node": {}}, True),
        ({"cluster": "x", "frontends": []}, False),
        ({"all": "x"}, False),
        ([], False),
    ],
)
def test_detection(data: object, expected: bool) -> None:
    assert is_onedeploy(data) is expected

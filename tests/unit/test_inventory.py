"""The native inventory: good files load into the model; every bad one is one precise line."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from oneupgrade.inventory.document import InventoryError
from oneupgrade.inventory.load import load_inventory
from oneupgrade.inventory.model import Host, Inventory

REPO = Path(__file__).resolve().parents[2]

# Line numbers matter: the bad cases below replace one line and name the line.
BASE = """\
cluster: lab-10
zone: 0
target: "7.0"
vip: 127.0.10.250
ssh:
  user: root
  identity_file: id_ed25519
  known_hosts: known_hosts
  port: 2222
frontends:
  - {name: fe1, address: 127.0.10.1}
  - {name: fe2, address: 127.0.10.2}
  - {name: fe3, address: 127.0.10.3}
hypervisors:
  - {name: hv1, address: 127.0.10.11, hypervisor: kvm}
  - {name: hv2, address: 127.0.10.12, hypervisor: lxc}
"""


def variant(*edits: tuple[str, str]) -> str:
    """BASE with whole lines replaced (the line count stays the same)."""
    lines = BASE.splitlines()
    for old, new in edits:
        matches = [i for i, line in enumerate(lines) if line == old]
        assert len(matches) == 1, f"{old!r} is not exactly one line of BASE"
        lines[matches[0]] = new
    return "\n".join(lines) + "\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory with a private key and a known_hosts file, as the lab writes them."""
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    key.chmod(0o600)
    (tmp_path / "known_hosts").write_text("")
    return tmp_path


def write(site: Path, text: str, name: str = "prod.yml") -> Path:
    path = site / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- good inventories


def test_full_inventory_loads_every_field(site: Path) -> None:
    path = write(site, BASE)
    inv = load_inventory(path)

    assert inv.path == path.resolve()
    assert inv.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (inv.cluster, inv.zone, inv.target, inv.vip) == ("lab-10", 0, "7.0", "127.0.10.250")
    assert (inv.proxy, inv.redact, inv.format) == ("auto", (), "native")
    assert inv.ssh.user == "root"
    assert inv.ssh.identity_file == site / "id_ed25519"
    assert inv.ssh.known_hosts == site / "known_hosts"
    assert (inv.ssh.port, inv.ssh.connect_timeout, inv.ssh.command_timeout) == (2222, 10.0, 600.0)
    assert (inv.ssh.config, inv.ssh.become, inv.ssh.become_password_env) == (None, "none", None)
    assert inv.frontends[0] == Host("fe1", "127.0.10.1", 2222, "root", "frontend", None)
    assert [h.name for h in inv.nodes] == ["fe1", "fe2", "fe3", "hv1", "hv2"]
    assert [h.hypervisor for h in inv.hypervisors] == ["kvm", "lxc"]
    assert {h.role for h in inv.hypervisors} == {"hypervisor"}
    assert not inv.discover_hypervisors
    assert inv.node("hv2").address == "127.0.10.12"
    assert str(inv.node("fe2")) == "fe2 (127.0.10.2)"


def test_every_optional_key(site: Path) -> None:
    (site / "ssh_config").write_text("Host *\n")
    text = BASE.replace(
        "  port: 2222\n",
        "  port: 2222\n"
        "  connect_timeout: 2.5\n"
        "  command_timeout: 30\n"
        "  config: ssh_config\n"
        "  become: sudo\n"
        "  become_password_env: ONE_SUDO_PASSWORD\n",
    ).replace(
        "vip: 127.0.10.250\n",
        'vip: 127.0.10.250\nproxy: nginx\nredact: ["s3cr[e]t-\\\\w+"]\n',
    )
    text = text.replace(
        "  - {name: fe2, address: 127.0.10.2}",
        "  - {name: fe2, address: 127.0.10.2, port: 2223, user: admin}",
    )
    inv = load_inventory(write(site, text))
    assert inv.proxy == "nginx"
    assert inv.redact == (r"s3cr[e]t-\w+",)
    assert (inv.ssh.connect_timeout, inv.ssh.command_timeout) == (2.5, 30.0)
    assert inv.ssh.config == site / "ssh_config"
    assert (inv.ssh.become, inv.ssh.become_password_env) == ("sudo", "ONE_SUDO_PASSWORD")
    fe2 = inv.node("fe2")
    assert (fe2.port, fe2.user) == (2223, "admin")


def test_minimal_inventory_takes_the_defaults(site: Path) -> None:
    text = """\
cluster: small
target: "6.10"
ssh: {user: oneadmin, known_hosts: known_hosts}
frontends:
  - {name: fe1, address: one.example.com}
"""
    inv = load_inventory(write(site, text))
    assert (inv.zone, inv.vip, inv.proxy, inv.redact) == (0, None, "auto", ())
    assert inv.ssh.identity_file is None
    assert (inv.ssh.port, inv.ssh.user, inv.ssh.become) == (22, "oneadmin", "none")
    assert inv.frontends == (Host("fe1", "one.example.com", 22, "oneadmin", "frontend"),)
    assert inv.hypervisors == ()
    assert not inv.discover_hypervisors


def test_discover_hypervisors(site: Path) -> None:
    lines = [*BASE.splitlines()[:13], "hypervisors: discover"]
    inv = load_inventory(write(site, "\n".join(lines) + "\n"))
    assert inv.discover_hypervisors
    assert inv.hypervisors == ()


def test_relative_paths_start_at_the_inventory_directory(
    site: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "keys").mkdir()
    shutil.move(site / "id_ed25519", site / "keys" / "id")
    text = BASE.replace("identity_file: id_ed25519", "identity_file: keys/id")
    path = write(site, text)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    inv = load_inventory(Path(os.path.relpath(path)))
    assert inv.ssh.identity_file == site / "keys" / "id"
    assert inv.ssh.known_hosts == site / "known_hosts"
    assert inv.path == path


def test_tilde_is_expanded(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(site))
    text = BASE.replace("identity_file: id_ed25519", "identity_file: ~/id_ed25519")
    inv = load_inventory(write(site, text, "sub.yml"))
    assert inv.ssh.identity_file == site / "id_ed25519"


def test_two_frontends_are_allowed(site: Path) -> None:
    inv = load_inventory(write(site, variant(("  - {name: fe3, address: 127.0.10.3}", ""))))
    assert [h.name for h in inv.frontends] == ["fe1", "fe2"]


def test_same_address_on_another_port_is_another_node(site: Path) -> None:
    text = variant(
        ("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe2, address: 127.0.10.1, port: 2223}")
    )
    assert load_inventory(write(site, text)).node("fe2").port == 2223


def test_unquoted_versions_are_read_as_written(site: Path) -> None:
    inv = load_inventory(write(site, variant(('target: "7.0"', "target: 6.10"))))
    assert inv.target == "6.10"  # YAML would say 6.1
    inv = load_inventory(write(site, variant(("cluster: lab-10", "cluster: 10"))))
    assert inv.cluster == "10"


def test_target_override_wins(site: Path) -> None:
    assert load_inventory(write(site, BASE), target_override="7.0.1").target == "7.0.1"


def test_bad_target_override_names_the_option(site: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(site, BASE), target_override="9.9")
    assert str(info.value).startswith(f"{site / 'prod.yml'}: --target: '9.9' is not a release")
    assert "known targets: 6.8" in str(info.value)


def test_anchors_and_merge_keys(site: Path) -> None:
    text = BASE.replace(
        "hypervisors:\n",
        "x-defaults: &hv {hypervisor: lxc, port: 2200}\nhypervisors:\n",
    )
    # x-defaults is not a key of ours: the anchor must live inside a known key.
    with pytest.raises(InventoryError, match="unknown key"):
        load_inventory(write(site, text))
    text = BASE.replace(
        "  - {name: hv1, address: 127.0.10.11, hypervisor: kvm}",
        "  - &hv {name: hv1, address: 127.0.10.11, hypervisor: lxc, port: 2200}",
    ).replace(
        "  - {name: hv2, address: 127.0.10.12, hypervisor: lxc}",
        "  - {<<: *hv, name: hv2, address: 127.0.10.12}",
    )
    hv2 = load_inventory(write(site, text)).node("hv2")
    assert (hv2.hypervisor, hv2.port) == ("lxc", 2200)


def test_the_model_is_frozen(site: Path) -> None:
    inv = load_inventory(write(site, BASE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.cluster = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.frontends[0].address = "10.0.0.1"  # type: ignore[misc]


def test_unknown_node_name(site: Path) -> None:
    inv = load_inventory(write(site, BASE))
    with pytest.raises(KeyError, match="no node named 'fe9'"):
        inv.node("fe9")


def test_the_example_inventory_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "one_upgrade_ed25519").write_text("")
    (home / ".ssh" / "one_upgrade_ed25519").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    shutil.copy(REPO / "inventory" / "example.yml", tmp_path / "example.yml")
    (tmp_path / "prod.known_hosts").write_text("")
    inv = load_inventory(tmp_path / "example.yml")
    assert isinstance(inv, Inventory)
    assert inv.cluster == "prod-zone-0"
    assert len(inv.frontends) == 3
    assert {h.hypervisor for h in inv.hypervisors} == {"kvm", "lxc"}


def test_loading_opens_no_connection(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("loading an inventory opened a connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    load_inventory(write(site, BASE))


# ---------------------------------------------------------------------- bad inventories

# (id, the file's text, line, key path or None, a part of the message)
BAD: list[tuple[str, str, int | None, str | None, str]] = [
    ("empty-file", "", 1, None, "the file is empty"),
    ("only-a-comment", "# nothing\n", 1, None, "the file is empty"),
    ("top-level-list", "- fe1\n- fe2\n", 1, None, "not a mapping"),
    (
        "yaml-syntax",
        variant(("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe2, address: 127.0.10.2")),
        13,
        None,
        "YAML syntax error",
    ),
    (
        "yaml-tab-indent",
        variant(("  user: root", "\tuser: root")),
        6,
        None,
        "YAML syntax error",
    ),
    ("missing-cluster", variant(("cluster: lab-10", "# no cluster")), 1, "cluster", "missing"),
    ("missing-target", variant(('target: "7.0"', "# no target")), 1, "target", "missing"),
    (
        "missing-ssh",
        variant(
            ("ssh:", "# no ssh"),
            ("  user: root", ""),
            ("  identity_file: id_ed25519", ""),
            ("  known_hosts: known_hosts", ""),
            ("  port: 2222", ""),
        ),
        1,
        "ssh",
        "missing; add an ssh: section",
    ),
    ("missing-ssh-user", variant(("  user: root", "  # no user")), 5, "ssh.user", "missing"),
    (
        "missing-known-hosts",
        variant(("  known_hosts: known_hosts", "  # no known_hosts")),
        5,
        "ssh.known_hosts",
        "missing; add known_hosts",
    ),
    (
        "missing-frontends",
        "\n".join(BASE.splitlines()[:9]) + "\n",
        1,
        "frontends",
        "missing",
    ),
    ("empty-cluster", variant(("cluster: lab-10", "cluster:")), 1, "cluster", "is empty"),
    ("zone-not-int", variant(("zone: 0", "zone: zero")), 2, "zone", "must be a zone id"),
    ("zone-bool", variant(("zone: 0", "zone: true")), 2, "zone", "true (a boolean)"),
    ("zone-negative", variant(("zone: 0", "zone: -1")), 2, "zone", "integer >= 0"),
    ("port-not-int", variant(("  port: 2222", "  port: ssh")), 9, "ssh.port", "1..65535"),
    ("port-too-big", variant(("  port: 2222", "  port: 70000")), 9, "ssh.port", "1..65535"),
    (
        "node-port-zero",
        variant(
            (
                "  - {name: fe2, address: 127.0.10.2}",
                "  - {name: fe2, address: 127.0.10.2, port: 0}",
            )
        ),
        12,
        "frontends[1].port",
        "got 0 (a number)",
    ),
    (
        "connect-timeout-zero",
        variant(("  port: 2222", "  connect_timeout: 0")),
        9,
        "ssh.connect_timeout",
        "positive number of seconds",
    ),
    (
        "command-timeout-text",
        variant(("  port: 2222", "  command_timeout: ten")),
        9,
        "ssh.command_timeout",
        "positive number of seconds, got 'ten'",
    ),
    (
        "command-timeout-infinite",
        variant(("  port: 2222", "  command_timeout: .inf")),
        9,
        "ssh.command_timeout",
        "positive number",
    ),
    (
        "frontends-not-a-list",
        "\n".join([*BASE.splitlines()[:9], "frontends: fe1"]) + "\n",
        10,
        "frontends",
        "non-empty list of nodes",
    ),
    (
        "frontends-empty",
        "\n".join([*BASE.splitlines()[:9], "frontends: []"]) + "\n",
        10,
        "frontends",
        "non-empty list",
    ),
    (
        "node-not-a-mapping",
        variant(("  - {name: fe2, address: 127.0.10.2}", "  - fe2")),
        12,
        "frontends[1]",
        "must be a mapping",
    ),
    (
        "unknown-top-key",
        variant(("zone: 0", "zones: 0")),
        2,
        "zones",
        "unknown key; did you mean 'zone'?",
    ),
    (
        "unknown-top-key-far",
        variant(("zone: 0", "mode: fast")),
        2,
        "mode",
        "unknown key; known keys here: cluster, zone",
    ),
    (
        "unknown-ssh-key",
        variant(("  identity_file: id_ed25519", "  identityfile: id_ed25519")),
        7,
        "ssh.identityfile",
        "did you mean 'identity_file'?",
    ),
    (
        "unknown-node-key",
        variant(("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe2, adress: 127.0.10.2}")),
        12,
        "frontends[1].adress",
        "did you mean 'address'?",
    ),
    (
        "hypervisor-key-on-frontend",
        variant(
            (
                "  - {name: fe2, address: 127.0.10.2}",
                "  - {name: fe2, address: 127.0.10.2, hypervisor: kvm}",
            )
        ),
        12,
        "frontends[1].hypervisor",
        "belongs to hypervisors entries",
    ),
    (
        "duplicate-yaml-key",
        variant(("  port: 2222", "  user: admin")),
        9,
        "ssh.user",
        "duplicate key 'user' (also at line 6)",
    ),
    (
        "duplicate-frontend-name",
        variant(("  - {name: fe3, address: 127.0.10.3}", "  - {name: fe1, address: 127.0.10.3}")),
        13,
        "frontends[2].name",
        "duplicate name 'fe1' (also at line 11); give every node a unique name",
    ),
    (
        "duplicate-name-across-roles",
        variant(
            (
                "  - {name: hv1, address: 127.0.10.11, hypervisor: kvm}",
                "  - {name: fe2, address: 127.0.10.11}",
            )
        ),
        15,
        "hypervisors[0].name",
        "duplicate name 'fe2' (also at line 12)",
    ),
    (
        "duplicate-address",
        variant(
            (
                "  - {name: hv1, address: 127.0.10.11, hypervisor: kvm}",
                "  - {name: hv1, address: 127.0.10.1}",
            )
        ),
        15,
        "hypervisors[0].address",
        "duplicate address 127.0.10.1:2222 (also frontends[0] at line 11)",
    ),
    (
        "missing-node-address",
        variant(("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe2}")),
        12,
        "frontends[1].address",
        "missing",
    ),
    (
        "invalid-node-name",
        variant(("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe 2, address: 127.0.10.2}")),
        12,
        "frontends[1].name",
        "invalid name 'fe 2'",
    ),
    (
        "address-like-an-option",
        variant(
            ("  - {name: fe2, address: 127.0.10.2}", "  - {name: fe2, address: -oProxyCommand=x}")
        ),
        12,
        "frontends[1].address",
        "not a host name or IP address",
    ),
    (
        "invalid-hypervisor-kind",
        variant(
            (
                "  - {name: hv2, address: 127.0.10.12, hypervisor: lxc}",
                "  - {name: hv2, address: 127.0.10.12, hypervisor: xen}",
            )
        ),
        16,
        "hypervisors[1].hypervisor",
        "'xen' is not one of kvm, lxc",
    ),
    (
        "hypervisors-bad-word",
        "\n".join([*BASE.splitlines()[:13], "hypervisors: discovery"]) + "\n",
        14,
        "hypervisors",
        "a list of nodes or the word discover",
    ),
    (
        "proxy-unknown",
        variant(("zone: 0", "proxy: haproxy")),
        2,
        "proxy",
        "'haproxy' is not one of nginx, apache, none, auto",
    ),
    (
        "become-unknown",
        variant(("  port: 2222", "  become: su")),
        9,
        "ssh.become",
        "'su' is not one of none, sudo",
    ),
    (
        "become-password-env-is-a-password",
        variant(("  port: 2222", "  become_password_env: hunter2!!")),
        9,
        "ssh.become_password_env",
        "not an environment variable name",
    ),
    (
        "become-password-env-without-become",
        variant(("  port: 2222", "  become_password_env: ONE_SUDO")),
        9,
        "ssh.become_password_env",
        "become is none",
    ),
    (
        "target-unknown",
        variant(('target: "7.0"', 'target: "9.9"')),
        3,
        "target",
        "not a release this tool knows; known targets: 6.8, 6.10",
    ),
    (
        "target-unknown-patch",
        variant(('target: "7.0"', 'target: "7.0.9"')),
        3,
        "target",
        "not a release this tool knows",
    ),
    (
        "target-malformed",
        variant(('target: "7.0"', "target: latest")),
        3,
        "target",
        "'latest' is not a version",
    ),
    (
        "target-encrypted",
        variant(('target: "7.0"', "target: !vault abc")),
        3,
        "target",
        "!vault values cannot be used",
    ),
    (
        "identity-file-missing",
        variant(("  identity_file: id_ed25519", "  identity_file: nope")),
        7,
        "ssh.identity_file",
        "nope does not exist",
    ),
    (
        "known-hosts-missing",
        variant(("  known_hosts: known_hosts", "  known_hosts: pinned_keys")),
        8,
        "ssh.known_hosts",
        "pinned_keys does not exist",
    ),
    (
        "config-missing",
        variant(("  port: 2222", "  config: no_such_config")),
        9,
        "ssh.config",
        "does not exist",
    ),
    (
        "cluster-path",
        variant(("cluster: lab-10", "cluster: ../etc")),
        1,
        "cluster",
        "cannot be used as a directory name",
    ),
    (
        "cluster-slash",
        variant(("cluster: lab-10", "cluster: a/b")),
        1,
        "cluster",
        "cannot be used as a directory name",
    ),
    (
        "cluster-list",
        variant(("cluster: lab-10", "cluster: [a]")),
        1,
        "cluster",
        "must be a string, got a list",
    ),
    (
        "redact-bad-regex",
        variant(("zone: 0", 'redact: ["ok", "(unclosed"]')),
        2,
        "redact[1]",
        "invalid regular expression",
    ),
    (
        "redact-empty-match",
        variant(("zone: 0", 'redact: ["x*"]')),
        2,
        "redact[0]",
        "matches the empty string",
    ),
    (
        "redact-not-a-list",
        variant(("zone: 0", "redact: token")),
        2,
        "redact",
        "must be a list of regular expressions",
    ),
    (
        "vip-bad",
        variant(("vip: 127.0.10.250", "vip: not an address")),
        4,
        "vip",
        "not a host name or IP address",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [pytest.param(t, ln, k, f, id=i) for i, t, ln, k, f in BAD],
)
def test_bad_inventory_is_one_precise_line(
    site: Path, text: str, line: int | None, key: str | None, fragment: str
) -> None:
    path = write(site, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    message = str(info.value)
    prefix = f"{path}:{line}: " + (f"{key}: " if key else "")
    assert message.startswith(prefix), message
    assert fragment in message
    assert "\n" not in message
    assert "; " in message  # what is wrong; what to do
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), line, key)


def test_the_table_is_big_enough() -> None:
    assert len(BAD) >= 20


def test_world_readable_key_says_chmod_600(site: Path) -> None:
    (site / "id_ed25519").chmod(0o644)
    path = write(site, BASE)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    key = site / "id_ed25519"
    assert str(info.value) == (
        f"{path}:7: ssh.identity_file: {key} is readable by others (mode 0644); chmod 600 {key}"
    )


def test_group_readable_key_is_refused_too(site: Path) -> None:
    (site / "id_ed25519").chmod(0o640)
    with pytest.raises(InventoryError, match="chmod 600"):
        load_inventory(write(site, BASE))


def test_password_given_as_env_name_is_never_echoed(site: Path) -> None:
    text = variant(("  port: 2222", "  become_password_env: 'hunter2 secret'"))
    text = text.replace("  identity_file: id_ed25519", "  become: sudo")
    with pytest.raises(InventoryError) as info:
        load_inventory(write(site, text))
    assert "hunter2" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "nope.yml")
    assert str(info.value) == f"{tmp_path / 'nope.yml'}: no such file; check the --inventory path"


def test_not_utf8(site: Path) -> None:
    path = site / "prod.yml"
    path.write_bytes(b"cluster: \xff\n")
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory(path)


def test_value_with_a_newline_still_gives_one_line(site: Path) -> None:
    text = variant(("cluster: lab-10", 'cluster: "lab\\n10"'))
    with pytest.raises(InventoryError) as info:
        load_inventory(write(site, text))
    assert "\n" not in str(info.value)


def test_alias_bomb_is_not_expanded(site: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(InventoryError, match="unknown key"):
        load_inventory(write(site, bomb))

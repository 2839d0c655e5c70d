"""How a node is reached: the inventory and the OpenSSH client config (transport.sshconfig)."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from oneupgrade.inventory.model import Host, SshSettings
from oneupgrade.transport.node import Node
from oneupgrade.transport.sshconfig import (
    MAX_HOPS,
    Hop,
    SshConfigError,
    default_identities,
    load_config,
    resolve_route,
)
from oneupgrade.transport.sudo import BecomePasswordMissing, become_password


def settings(tmp_path: Path, *, identity: bool = False, **extra: object) -> SshSettings:
    key = None
    if identity:
        key = tmp_path / "inventory_key"
        key.write_text("not read here")
    known = tmp_path / "known_hosts"
    known.touch()
    values: dict[str, object] = {"user": "root", "identity_file": key, "known_hosts": known}
    values.update(extra)
    return SshSettings(**values)  # type: ignore[arg-type]


def host(address: str = "fe1", *, port: int = 22, user: str = "root", **given: bool) -> Host:
    return Host("fe1", address, port, user, "frontend", None, **given)


def config(text: str) -> paramiko.SSHConfig:
    return paramiko.SSHConfig.from_text(text)


def test_without_a_config_the_inventory_says_everything(tmp_path: Path) -> None:
    route = resolve_route(host("10.0.0.1", port=2222), settings(tmp_path, identity=True), None)
    assert route.jumps == ()
    key = (tmp_path / "inventory_key",)
    # a named key is offered alone (no agent), as with `ssh -i KEY -o IdentitiesOnly=yes`
    assert route.target == Hop("10.0.0.1", "10.0.0.1", 2222, "root", key, agent=False, named=True)


def test_an_address_that_is_a_host_alias_gets_its_hostname_port_user_and_key(
    tmp_path: Path,
) -> None:
    key = tmp_path / "id_fe"
    key.write_text("k")
    cfg = config(
        f"Host fe1\n  HostName 10.0.0.11\n  Port 2200\n  User jdoe\n  IdentityFile {key}\n"
        "  IdentityFile /nonexistent/key\n"
    )
    # port/user not written in the inventory: the config's apply
    route = resolve_route(host(port_given=False, user_given=False), settings(tmp_path), cfg)
    assert route.target == Hop("fe1", "10.0.0.11", 2200, "jdoe", (key,), False, True)
    # written in the inventory: the inventory wins, like ssh's command line
    route = resolve_route(host(port=22, user="root"), settings(tmp_path, identity=True), cfg)
    assert (route.target.hostname, route.target.port, route.target.user) == (
        "10.0.0.11",
        22,
        "root",
    )
    assert route.target.identity_files == (tmp_path / "inventory_key",)


def test_no_key_anywhere_means_the_agent(tmp_path: Path) -> None:
    route = resolve_route(host(), settings(tmp_path), config("Host *\n  User x\n"))
    # HOME is an empty temp dir: no default identity exists
    assert (route.target.identity_files, route.target.agent) == ((), True)
    assert route.target.offered() == "the ssh-agent's keys"


def test_no_key_named_means_the_agent_then_openssh_default_identities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in ("id_ed25519", "id_rsa", "id_ed25519_sk", "id_ecdsa.pub"):
        (home / ".ssh" / name).write_text("k")
    route = resolve_route(host(), settings(tmp_path), None)
    # in OpenSSH's order (`ssh -G`), security keys left out (paramiko cannot use them)
    assert route.target.identity_files == (home / ".ssh/id_rsa", home / ".ssh/id_ed25519")
    assert (route.target.agent, route.target.named) == (True, False)
    assert default_identities() == route.target.identity_files
    # IdentitiesOnly yes: the agent's keys are not offered, the default files still are
    cfg = config("Host fe1\n  IdentitiesOnly yes\n")
    only = resolve_route(host(), settings(tmp_path), cfg).target
    assert (only.identity_files, only.agent) == (route.target.identity_files, False)
    assert only.offered() == f"{home}/.ssh/id_rsa, {home}/.ssh/id_ed25519"
    # a jump host with no key named gets the same defaults
    cfg = config("Host fe1\n  ProxyJump gate\n")
    (jump,) = resolve_route(host(), settings(tmp_path), cfg).jumps
    assert (jump.identity_files, jump.agent) == (route.target.identity_files, True)


def test_one_jump_host_is_looked_up_in_the_config_too(tmp_path: Path) -> None:
    cfg = config(
        "Host bastion\n  HostName 192.0.2.7\n  Port 2022\n  User gate\n"
        "Host fe*\n  ProxyJump bastion\n"
    )
    route = resolve_route(host("fe1"), settings(tmp_path, identity=True), cfg)
    (jump,) = route.jumps
    key = (tmp_path / "inventory_key",)
    assert jump == Hop("bastion", "192.0.2.7", 2022, "gate", key, agent=False, named=True)
    assert route.target.hostname == "fe1"


def test_a_jump_list_is_connected_in_order_and_user_at_host_port_is_read(
    tmp_path: Path,
) -> None:
    cfg = config("Host j2\n  HostName 198.51.100.2\nHost fe1\n  ProxyJump ops@j1:2201,j2\n")
    route = resolve_route(host(), settings(tmp_path), cfg)
    assert [(j.alias, j.hostname, j.port, j.user) for j in route.jumps] == [
        ("j1", "j1", 2201, "ops"),
        ("j2", "198.51.100.2", 22, "root"),  # user: the inventory's ssh.user
    ]


def test_a_jump_host_behind_its_own_jump_host(tmp_path: Path) -> None:
    cfg = config(
        "Host outer\n  HostName 203.0.113.1\n"
        "Host inner\n  HostName 10.1.0.1\n  ProxyJump outer\n"
        "Host fe1\n  HostName 10.2.0.11\n  ProxyJump inner\n"
    )
    route = resolve_route(host(), settings(tmp_path), cfg)
    assert [j.hostname for j in route.jumps] == ["203.0.113.1", "10.1.0.1"]
    assert route.target.hostname == "10.2.0.11"


def test_in_a_jump_list_only_the_first_hosts_own_proxyjump_is_followed(tmp_path: Path) -> None:
    cfg = config("Host a\n  ProxyJump z\nHost b\n  ProxyJump ignored\nHost fe1\n  ProxyJump a,b\n")
    route = resolve_route(host(), settings(tmp_path), cfg)
    assert [j.alias for j in route.jumps] == ["z", "a", "b"]


def test_proxyjump_none_and_no_match_mean_direct(tmp_path: Path) -> None:
    cfg = config("Host fe1\n  ProxyJump none\nHost other\n  ProxyJump j\n")
    assert resolve_route(host(), settings(tmp_path), cfg).jumps == ()


def test_a_proxyjump_loop_and_too_many_hops_are_refused(tmp_path: Path) -> None:
    loop = config("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost fe1\n  ProxyJump a\n")
    with pytest.raises(SshConfigError, match="loop"):
        resolve_route(host(), settings(tmp_path), loop)
    chain = ",".join(f"j{i}" for i in range(MAX_HOPS + 1))
    with pytest.raises(SshConfigError, match="more than"):
        resolve_route(host(), settings(tmp_path), config(f"Host fe1\n  ProxyJump {chain}\n"))


def test_proxycommand_is_refused_with_a_hint(tmp_path: Path) -> None:
    cfg = config("Host fe1\n  ProxyCommand nc %h %p\n")
    with pytest.raises(SshConfigError, match="ProxyJump"):
        resolve_route(host(), settings(tmp_path), cfg)


def test_the_config_file_is_the_inventorys_else_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert load_config(settings(tmp_path)) is None
    (home / ".ssh" / "config").write_text("Host fe1\n  HostName from-home\n")
    found = load_config(settings(tmp_path))
    assert found is not None
    assert found.lookup("fe1")["hostname"] == "from-home"
    own = tmp_path / "ssh_config"
    own.write_text("Host fe1\n  HostName from-inventory\n")
    found = load_config(settings(tmp_path, config=own))
    assert found is not None
    assert found.lookup("fe1")["hostname"] == "from-inventory"


def test_a_node_reports_a_bad_config_as_a_connection_failure(tmp_path: Path) -> None:
    own = tmp_path / "ssh_config"
    own.write_text("Host fe1\n  ProxyJump a,a\n")
    node = Node(host(), settings(tmp_path, config=own))
    with pytest.raises(Exception, match="fe1: ssh config: ProxyJump loop"):
        node.connect(attempts=1)


def test_the_sudo_password_comes_from_its_variable_or_a_prompt(tmp_path: Path) -> None:
    s = settings(tmp_path, become="sudo", become_password_env="SUDO_PW")
    assert become_password(s, environ={"SUDO_PW": "hunter22"}) == "hunter22"
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed-pw"

    assert become_password(s, environ={}, interactive=True, prompt=prompt) == "typed-pw"
    assert len(asked) == 1
    assert "typed-pw" not in asked[0]
    with pytest.raises(BecomePasswordMissing, match=r"\$SUDO_PW, which is not set"):
        become_password(s, environ={}, interactive=False)
    assert become_password(settings(tmp_path, become="sudo"), environ={}) is None
    assert become_password(settings(tmp_path), environ={"SUDO_PW": "x"}) is None


def test_sudo_wrapping_never_puts_the_password_on_the_command_line(tmp_path: Path) -> None:
    s = settings(tmp_path, user="admin", become="sudo", become_password_env="SUDO_PW")
    node = Node(host(user="admin"), s, become_password="hunter22")
    node._sudo_feed = True
    line = node._wrap("onehost sync", 60, "oneadmin")
    assert "hunter22" not in line
    assert line.startswith("sudo -k -S -p '' -- sh -c ")
    assert "runuser -u oneadmin -- timeout -k 5 60 sh -c" in line
    node._sudo_feed = False  # passwordless sudo: never wait for a password
    assert node._wrap("true", 5, None).startswith("sudo -n -- sh -c ")
    root = Node(host(), settings(tmp_path, become="sudo"))
    assert root._wrap("true", 5, None).startswith("timeout ")  # root needs no sudo

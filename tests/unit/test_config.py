"""oned.conf and monitord.conf: the few values the upgrade reads and edits."""

from oneupgrade.opennebula import config

ONED = """\
DB = [ BACKEND = "mysql",
       SERVER  = "localhost" ]

FEDERATION = [
    MODE          = "STANDALONE",
    ZONE_ID       = 0,
    SERVER_ID     = 2,
    MASTER_ONED   = ""
]

RAFT_LEADER_HOOK = [
     COMMAND = "raft/vip.sh",
     ARGUMENTS = "leader eth0 10.3.3.2/24"
]
# SERVER_ID = 7 in a comment outside FEDERATION is not the value
"""


def test_server_id_is_read_from_the_federation_block() -> None:
    assert config.server_id(ONED) == 2


def test_server_id_is_none_without_a_federation_block() -> None:
    assert config.server_id('DB = [ BACKEND = "sqlite" ]\n') is None


def test_with_server_id_changes_that_value_only() -> None:
    edited = config.with_server_id(ONED, 1)
    assert config.server_id(edited) == 1
    changed = [
        (a, b) for a, b in zip(ONED.splitlines(), edited.splitlines(), strict=True) if a != b
    ]
    assert changed == [("    SERVER_ID     = 2,", "    SERVER_ID     = 1,")]


def test_vip_comes_from_the_leader_hook_arguments() -> None:
    assert config.vip(ONED) == "10.3.3.2"
    assert config.vip("FEDERATION = [ SERVER_ID = -1 ]") is None


def test_monitor_address_is_replaced_in_place() -> None:
    text = 'NETWORK = [ ADDRESS = "::", MONITOR_ADDRESS = "auto", PORT = 4124 ]\n'
    edited = config.with_monitor_address(text, "10.3.3.2")
    assert config.monitor_address(text) == "auto"
    assert edited == 'NETWORK = [ ADDRESS = "::", MONITOR_ADDRESS = "10.3.3.2", PORT = 4124 ]\n'


def test_differences_ignore_server_id_and_show_anything_else() -> None:
    other = config.with_server_id(ONED, 0)
    assert config.differences(ONED, other) == []
    changed = other.replace('MODE          = "STANDALONE"', 'MODE          = "MASTER"')
    diff = config.differences(ONED, changed)
    assert '-    MODE          = "STANDALONE",' in diff
    assert '+    MODE          = "MASTER",' in diff

"""Parsing the CLI's JSON, with its traps: strings everywhere, dict-or-list pools, `{}`."""

import json

from oneupgrade.opennebula import onehost, onevm, onezone
from tests.unit.fakes import FakeNode


def _server(i: int, state: str, term: str = "4", commit: str = "21") -> dict[str, str]:
    return {
        "ENDPOINT": f"http://10.0.0.{i + 1}:2633/RPC2",
        "ID": str(i),
        "NAME": f"fe{i + 1}",
        "STATE": state,
        "TERM": term,
        "VOTEDFOR": "-1",
        "COMMIT": commit,
        "LOG_INDEX": commit,
        "FEDLOG_INDEX": "-1",
    }


def _zone(*servers: dict[str, str], state: str = "0") -> str:
    pool = {"SERVER": list(servers)} if servers else {}
    return json.dumps(
        {
            "ZONE": {
                "ID": "0",
                "NAME": "OpenNebula",
                "STATE": state,
                "TEMPLATE": {"ENDPOINT": "http://10.0.0.250:2633/RPC2"},
                "SERVER_POOL": pool,
            }
        }
    )


def test_a_healthy_zone_has_one_leader_and_followers_in_sync() -> None:
    node = FakeNode(
        answers={"onezone show": (0, _zone(_server(0, "3"), _server(1, "2"), _server(2, "2")), "")}
    )
    zone = onezone.zone(node, 0)
    assert zone.enabled
    assert [s.address for s in zone.servers] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert zone.health_problems() == []


def test_a_follower_behind_the_leader_is_not_in_sync() -> None:
    node = FakeNode(
        answers={"onezone show": (0, _zone(_server(0, "3"), _server(1, "2", commit="20")), "")}
    )
    problems = onezone.zone(node, 0).health_problems()
    assert problems == ["server 1 (fe2) commit 20 != leader's 21 (not in sync)"]


def test_a_server_in_error_and_no_leader_are_both_reported() -> None:
    down = {**_server(1, "-"), "TERM": "-", "COMMIT": "-"}
    node = FakeNode(answers={"onezone show": (0, _zone(_server(0, "1"), down), "")})
    problems = onezone.zone(node, 0).health_problems()
    assert "0 leaders (want exactly 1)" in problems
    assert "server 1 (fe2) is error" in problems
    assert "server 0 (fe1) is candidate" in problems


def test_a_disabled_solo_zone_has_no_servers() -> None:
    zone = onezone.zone(FakeNode(answers={"onezone show": (0, _zone(state="1"), "")}), 0)
    assert not zone.enabled
    assert zone.servers == ()
    assert zone.health_problems() == []


def test_one_host_comes_as_a_dict_and_several_as_a_list() -> None:
    one = {
        "ID": "0",
        "NAME": "hv1",
        "STATE": "4",
        "VM_MAD": "kvm",
        "TEMPLATE": {"VERSION": "6.10.5"},
    }
    two = {"ID": "1", "NAME": "hv2", "STATE": "2", "VM_MAD": "kvm", "TEMPLATE": {}}
    single = FakeNode(answers={"onehost list": (0, json.dumps({"HOST_POOL": {"HOST": one}}), "")})
    double = FakeNode(
        answers={"onehost list": (0, json.dumps({"HOST_POOL": {"HOST": [one, two]}}), "")}
    )
    empty = FakeNode(answers={"onehost list": (0, json.dumps({"HOST_POOL": {}}), "")})
    assert [(h.name, h.enabled, h.version) for h in onehost.hosts(single)] == [
        ("hv1", False, "6.10.5")
    ]
    assert [h.state_name for h in onehost.hosts(double)] == ["DISABLED", "MONITORED"]
    assert onehost.hosts(empty) == []


def test_only_prolog_migrate_epilog_and_save_states_are_transient() -> None:
    vms = [
        {"ID": "1", "NAME": "a", "STATE": "3", "LCM_STATE": "4"},
        {"ID": "2", "NAME": "b", "STATE": "3", "LCM_STATE": "3"},
        {"ID": "3", "NAME": "c", "STATE": "8", "LCM_STATE": "0"},
        {"ID": "4", "NAME": "d", "STATE": "3", "LCM_STATE": "11"},
    ]
    node = FakeNode(answers={"onevm list": (0, json.dumps({"VM_POOL": {"VM": vms}}), "")})
    assert [(v.id, v.transient_state) for v in onevm.vms(node)] == [
        (1, "MIGRATE"),
        (2, None),
        (3, None),
        (4, "EPILOG"),
    ]

"""onezone show/list: exact text and JSON shapes, raft rows, zone enable/disable."""

from __future__ import annotations

import json
import time

from onelab.sim import ClusterSpec, NodeSpec, raft
from onelab.sim.fakeroot import FakeCluster as FakeLab
from onelab.sim.fakeroot import MakeLab


def test_show_text_healthy(lab: FakeLab) -> None:
    lines = lab.ok("fe1", "onezone", "show", "0").out.splitlines()
    assert lines[0] == "ZONE 0 INFORMATION".ljust(80)
    assert lines[1] == "ID                : 0                   "
    assert lines[3] == "STATE             : ENABLED             "
    assert lines[4:6] == ["", ""]
    assert lines[6] == "ZONE SERVERS".ljust(80)
    assert lines[7] == "ID NAME            " + "ENDPOINT".ljust(63)
    assert lines[8] == " 0 fe0             http://127.0.10.1:2633/RPC2"
    assert lines[12] == "HA & FEDERATION SYNC STATUS".ljust(80)
    assert lines[13] == (
        "ID NAME            STATE      TERM       INDEX      COMMIT     VOTE  FED_INDEX "
    )
    assert lines[14] == " 0 fe0             leader     1          42         42         0     -1"
    assert lines[15].startswith(" 1 fe1             follower   1          42         42")
    assert lines[-2] == "ZONE TEMPLATE".ljust(80)
    assert lines[-1] == 'ENDPOINT="http://127.0.10.100:2633/RPC2"'


def test_show_json_shape(lab: FakeLab) -> None:
    doc = json.loads(lab.ok("fe2", "onezone", "show", "0", "-j").out)
    zone = doc["ZONE"]
    assert list(zone) == ["ID", "NAME", "STATE", "TEMPLATE", "SERVER_POOL"]
    servers = zone["SERVER_POOL"]["SERVER"]
    assert isinstance(servers, list)
    assert len(servers) == 3
    assert list(servers[0]) == [
        "ENDPOINT", "ID", "NAME", "STATE", "TERM", "VOTEDFOR", "COMMIT", "LOG_INDEX",
        "FEDLOG_INDEX",
    ]  # fmt: skip
    assert all(isinstance(v, str) for s in servers for v in s.values())
    assert [s["STATE"] for s in servers] == ["3", "2", "2"]
    assert len({s["TERM"] for s in servers}) == 1


def test_stopped_follower_shows_error_row(lab: FakeLab) -> None:
    lab.ok("fe2", "systemctl", "stop", "opennebula")
    text = lab.ok("fe0", "onezone", "show", "0").out
    assert " 2 fe2             error      -          -          -          -     -\n" in text
    doc = json.loads(lab.ok("fe0", "onezone", "show", "0", "-j").out)
    row = doc["ZONE"]["SERVER_POOL"]["SERVER"][2]
    assert {row[k] for k in ("STATE", "TERM", "COMMIT", "LOG_INDEX", "VOTEDFOR")} == {"-"}


def test_oned_down_refuses_connections(lab: FakeLab) -> None:
    lab.ok("fe1", "systemctl", "stop", "opennebula")
    r = lab.run("fe1", "onezone", "show", "0", "-j")
    assert r.rc == 255
    assert r.err == (
        "Failed to open TCP connection to localhost:2633 (Connection refused - "
        'connect(2) for "localhost" port 2633)\n'
    )
    assert lab.run("fe1", "onehost", "list", "-j").rc == 255
    assert lab.run("fe1", "onevm", "list", "-j").rc == 255


def test_solo_zone(make_lab: MakeLab) -> None:
    spec = ClusterSpec(
        nodes=[NodeSpec("one", "127.0.10.1", "frontend", "debian12", server_id=-1)],
        release="7.0.2",
        vip="127.0.10.1",
    )
    lab = make_lab(spec)
    doc = json.loads(lab.ok("one", "onezone", "show", "0", "-j").out)
    assert doc["ZONE"]["SERVER_POOL"] == {}
    text = lab.ok("one", "onezone", "show", "0").out
    assert "ZONE SERVERS" not in text
    assert "HA & FEDERATION" not in text
    assert json.loads(lab.ok("one", "onehost", "list", "-j").out) == {"HOST_POOL": {}}
    assert json.loads(lab.ok("one", "onevm", "list", "-j").out) == {"VM_POOL": {}}
    conf = (lab.root("one") / "etc/one/oned.conf").read_text()
    assert "\nRAFT_LEADER_HOOK" not in conf
    assert "SERVER_ID     = -1," in conf


def test_zone_disable_blocks_writes(lab: FakeLab) -> None:
    assert lab.ok("fe0", "onezone", "disable", "0", "-v").out == "ZONE 0: disable zone\n"
    r = lab.run("fe1", "onehost", "disable", "0")
    assert (r.rc, r.err) == (255, "[one.host.status] Cannot process request, zone disabled\n")
    zone = json.loads(lab.ok("fe2", "onezone", "list", "-j").out)["ZONE_POOL"]["ZONE"][0]
    assert zone["STATE"] == "1"
    assert "SERVER" in zone["SERVER_POOL"]
    assert "TERM" not in zone["SERVER_POOL"]["SERVER"][0]
    assert lab.ok("fe0", "onezone", "enable", "0").out == ""
    assert lab.ok("fe1", "onehost", "disable", "0").out == ""
    hosts = json.loads(lab.ok("fe2", "onehost", "list", "-j").out)["HOST_POOL"]["HOST"]
    assert hosts[0]["STATE"] == "4"


def test_writes_replicate_and_advance_index(lab: FakeLab) -> None:
    lab.ok("fe0", "onezone", "disable", "0")
    servers = json.loads(lab.ok("fe0", "onezone", "show", "0", "-j").out)["ZONE"]["SERVER_POOL"]
    # the followers learn the new commit index with the next heartbeat
    assert {s["ID"]: s["COMMIT"] for s in servers["SERVER"]} == {"0": "43", "1": "42", "2": "42"}
    time.sleep(raft.SYNC_LAG)
    servers = json.loads(lab.ok("fe0", "onezone", "show", "0", "-j").out)["ZONE"]["SERVER_POOL"]
    assert {s["COMMIT"] for s in servers["SERVER"]} == {"43"}


def test_the_leader_voted_for_itself(lab: FakeLab) -> None:
    servers = json.loads(lab.ok("fe1", "onezone", "show", "0", "-j").out)["ZONE"]["SERVER_POOL"]
    votes = {s["STATE"]: s["VOTEDFOR"] for s in servers["SERVER"] if s["STATE"] == "3"}
    leader = next(s for s in servers["SERVER"] if s["STATE"] == "3")
    assert votes == {"3": leader["ID"]}

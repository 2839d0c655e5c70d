"""Injected faults act through real SSH sessions (the simulation's session and tools)."""

from __future__ import annotations

import time
from collections.abc import Callable

import paramiko
import pytest

from onelab import Lab

pytestmark = pytest.mark.lab
LabFactory = Callable[..., Lab]


@pytest.fixture
def lab1(make_lab: LabFactory) -> Lab:
    return make_lab(frontends=1, hypervisors=1)


def test_exit_code_once_then_normal(lab1: Lab) -> None:
    lab1.fault("fe1", "echo faulty", times=1, exit_code=7)
    rc, _, err = lab1.run("fe1", "echo faulty")
    assert rc == 7
    assert "simulated fault" in err
    assert lab1.run("fe1", "echo faulty") == (0, "faulty\n", "")
    assert lab1.run("hv1", "echo faulty")[0] == 0


def test_exit_code_always_until_cleared(lab1: Lab) -> None:
    lab1.fault("hv1", "echo faulty", times=None, exit_code=3)
    assert [lab1.run("hv1", "echo faulty")[0] for _ in range(3)] == [3, 3, 3]
    assert lab1.run("hv1", "echo fine")[0] == 0
    lab1.clear_faults("hv1")
    assert lab1.run("hv1", "echo faulty")[0] == 0


def test_a_faulty_simulated_tool(lab1: Lab) -> None:
    lab1.fault("fe1", "onezone show", times=1, exit_code=255)
    assert lab1.run("fe1", "onezone show 0")[0] == 255
    assert lab1.run("fe1", "onezone show 0")[0] == 0


def test_a_hang_is_killed_by_timeout_on_the_node(lab1: Lab) -> None:
    lab1.fault("fe1", "onezone show", times=None, action="hang")
    started = time.monotonic()
    rc, out, _ = lab1.run("fe1", "timeout 2 onezone show 0; echo rc=$?", timeout=20)
    assert out.splitlines()[-1] == "rc=124"
    assert rc == 0
    assert 1.9 < time.monotonic() - started < 10


def test_a_hang_times_out_on_the_client(lab1: Lab) -> None:
    lab1.fault("fe1", "sleep 0", times=1, action="hang")
    with pytest.raises(TimeoutError):
        lab1.run("fe1", "sleep 0", timeout=1)
    assert lab1.run("fe1", "echo after")[1] == "after\n"


def test_drop_closes_the_connection(lab1: Lab) -> None:
    client = lab1.connect("fe1")
    lab1.fault("fe1", "echo dropme", times=1, action="drop")
    _, stdout, _ = client.exec_command("echo dropme", timeout=10)
    stdout.read()
    transport = client.get_transport()
    deadline = time.monotonic() + 5
    while transport is not None and transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert transport is None or not transport.is_active()
    client.close()
    # the node itself stays up: a new connection works
    assert lab1.run("fe1", "hostname")[1] == "fe1\n"


def test_drop_through_lab_run_raises(lab1: Lab) -> None:
    lab1.fault("fe1", "onehost list", times=1, action="drop")
    with pytest.raises(paramiko.SSHException):
        lab1.run("fe1", "echo x; onehost list")
    assert lab1.run("fe1", "echo again")[1] == "again\n"

"""Teardown leaves nothing behind; nodes stop and start; labs coexist and survive crashes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import pytest

from onelab import Lab
from onelab.procs import all_by_namespace, mnt_ns

pytestmark = pytest.mark.lab
LabFactory = Callable[..., Lab]
DROP = (
    "p=$$; while [ \"$(cat /proc/$p/comm)\" != sshd ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done; "
    "kill -9 $p"
)


def namespaces_of(lab: Lab) -> set[str]:
    found: set[str] = set()
    for name in lab.names:
        pid = int((lab.dir / "nodes" / name / "pid").read_text())
        ns = mnt_ns(pid)
        assert ns not in (None, mnt_ns("self"))
        found.add(ns)
    return found


def test_down_leaves_no_process_and_no_mount(
    make_lab: LabFactory, snapshot_host: Callable[[], dict[str, Any]]
) -> None:
    before = snapshot_host()
    lab = make_lab(frontends=2, hypervisors=2)
    spaces = namespaces_of(lab)
    assert len(spaces) == 4
    # open sessions, a running command and a detached daemon keep a namespace alive
    for name in lab.names:
        rc, _, err = lab.run(name, "setsid sleep 600 </dev/null >/dev/null 2>&1 &")
        assert rc == 0, err
    busy = lab.connect("fe1")
    busy.exec_command("sleep 600")
    for name in lab.names:
        rc, _, err = lab.run(name, "useradd -M labuser && touch /root/.bashrc /run/x /etc/x")
        assert rc == 0, err
    assert lab.down() == 4
    busy.close()
    assert not spaces & set(all_by_namespace())
    assert snapshot_host() == before


def test_stop_and_start_a_node(make_lab: LabFactory) -> None:
    lab = make_lab(frontends=2)
    session = lab.connect("fe2")
    rc, _, _ = lab.run("fe2", "echo kept > /etc/kept; echo gone > /run/gone")
    assert rc == 0
    lab.stop_node("fe2")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((lab.nodes["fe2"], lab.port), timeout=2).close()
    transport = session.get_transport()
    deadline = time.monotonic() + 5
    while transport is not None and transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert transport is None or not transport.is_active(), "open session survived node stop"
    assert lab.run("fe1", "hostname")[1] == "fe1\n"
    lab.start_node("fe2")
    rc, out, _ = lab.run("fe2", "cat /etc/kept; test -e /run/gone; echo $?")
    assert (rc, out) == (0, "kept\n1\n")


def test_two_labs_get_different_ranges(make_lab: LabFactory) -> None:
    one, two = make_lab(), make_lab()
    assert one.nodes["fe1"].rsplit(".", 1)[0] != two.nodes["fe1"].rsplit(".", 1)[0]
    assert one.run("fe1", "hostname")[1] == two.run("fe1", "hostname")[1] == "fe1\n"


def test_concurrent_ups_never_share_a_range(tmp_path: Path) -> None:
    dirs = [tmp_path / f"lab{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "oneupgrade.lab", "up", "--dir", str(d), "--hypervisors", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    try:
        outputs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), outputs
        labs = [Lab.open(d) for d in dirs]
        assert [str(lab.inventory_path) for lab in labs] == [o.splitlines()[-1] for o, _ in outputs]
        assert len({lab.nodes["fe1"] for lab in labs}) == 3
    finally:
        for d in dirs:
            subprocess.run(
                [sys.executable, "-m", "oneupgrade.lab", "down", "--dir", str(d)], check=False
            )


def test_a_lab_left_by_a_killed_up_blocks_nothing(make_lab: LabFactory, tmp_path: Path) -> None:
    left = tmp_path / "left"
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneupgrade.lab", "up", "--dir", str(left), "--hypervisors", "40"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (left / "nodes" / "hv40" / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        fresh = make_lab()
        assert fresh.run("fe1", "hostname")[1] == "fe1\n"
    finally:
        subprocess.run(
            [sys.executable, "-m", "oneupgrade.lab", "down", "--dir", str(left)], check=True
        )
    marker = f"upperdir={left.resolve()}/nodes/"
    for pids in all_by_namespace().values():
        for pid in pids:
            try:
                assert marker not in Path(f"/proc/{pid}/mountinfo").read_text()
            except FileNotFoundError:
                pass


def test_run_reconnects_after_a_dropped_connection(make_lab: LabFactory) -> None:
    lab = make_lab()
    assert lab.run("fe1", "true")[0] == 0
    with pytest.raises(paramiko.SSHException, match="closed"):
        lab.run("fe1", DROP)
    assert lab.run("fe1", "echo again")[1] == "again\n"

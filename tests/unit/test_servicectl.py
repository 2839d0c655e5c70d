"""The lab's systemctl for real programs: real processes, systemctl's formats and exit codes."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from onelab.real.node import systemctl_program

# A node's /usr/bin/systemctl, with this checkout's onelab/real as the folder of its package
SERVICECTL = systemctl_program(str(Path(__file__).parents[2] / "onelab/real"))
SOURCES = Path(__file__).resolve().parents[3] / "shared/opennebula"  # the upstream tarballs
Run = Callable[..., subprocess.CompletedProcess[str]]


def load_module() -> ModuleType:
    return importlib.import_module("onelab.real.servicectl.units")


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.units = root / "lib/systemd/system"
        self.units.mkdir(parents=True)

    def unit(self, name: str, text: str) -> None:
        (self.units / name).write_text(textwrap.dedent(text))

    def state(self, name: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(
            (self.root / f"run/one-lab/units/{name}.json").read_text()
        )
        return data

    def log(self, name: str) -> str:
        return (self.root / f"var/log/one-lab/units/{name}.log").read_text()

    def run(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, ONE_LAB_ROOT=str(self.root))
        return subprocess.run(
            [sys.executable, "-c", SERVICECTL, *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("starting units needs root")
    lab = Lab(tmp_path / "root")
    yield lab
    # whatever a test started dies here, found by the pid and session each unit recorded
    for path in (lab.root / "run/one-lab/units").glob("*.json"):
        state = json.loads(path.read_text())
        for kill, target in ((os.killpg, state.get("sid")), (os.kill, state.get("pid"))):
            if target:
                try:
                    kill(target, signal.SIGKILL)
                except OSError:
                    pass


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def gone(pid: int) -> bool:
    deadline = time.monotonic() + 3
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def _unit_files(tmp: Path) -> list[Path]:
    """Every release's own unit files, read from its source tarball."""
    for tarball in sorted(SOURCES.glob("opennebula-*.tar.xz")):
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if "/share/pkgs/services/systemd/" in m.name]
            tar.extractall(tmp / tarball.stem, members=members, filter="data")
    return sorted(p for p in tmp.rglob("*") if p.suffix in (".service", ".timer"))


def test_the_real_opennebula_unit_files_parse(tmp_path: Path) -> None:
    sc = load_module()
    files = _unit_files(tmp_path)
    assert len(files) > 20  # 6.10, 7.0 and 7.2 ship a dozen each
    for path in files:
        unit = sc.Unit(path.name, str(path), False)
        assert unit.description != path.name, path
        for key in ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStopPost"):
            for line in unit.keys.get(key, []):
                assert sc.command(line, {"SSH_AUTH_SOCK": "/s"})[0], (path, line)
    oned_file = next(p for p in files if p.name == "opennebula.service" and "-7.0." in str(p))
    oned = sc.Unit("opennebula.service", str(oned_file), False)
    assert oned.type == "notify"
    assert oned.get("User") == "oneadmin"
    assert oned.get("PIDFile") == "/var/lock/one/one"
    assert oned.keys["EnvironmentFile"] == ["-/var/run/one/ssh-agent.env"]
    assert len(oned.keys["ExecStartPre"]) == 4  # 7.0: logrotate, two gzips, pre_cleanup
    assert "opennebula-hem.service" in oned.words("Wants")
    argv, ignore = sc.command(oned.keys["ExecStartPre"][1], {})
    assert ignore
    assert argv[:2] == ["/bin/sh", "-c"]
    assert "gzip -9" in argv[2]


def test_parsing_continuations_resets_environment_and_timeouts(tmp_path: Path) -> None:
    sc = load_module()
    (tmp_path / "x.service").write_text(
        "[Service]\n; comment\nExecStart=/bin/echo a \\\n  b\nExecStartPre=/bin/true\n"
        "ExecStartPre=\nExecStartPre=-/bin/false\nTimeoutStopSec=2min\nTimeoutStartSec=infinity\n"
        'Environment="A=1 2" B=$A\n'
    )
    unit = sc.Unit("x.service", str(tmp_path / "x.service"), False)
    assert unit.keys["ExecStartPre"] == ["-/bin/false"]
    assert sc.command(unit.get("ExecStart"), {})[0] == ["/bin/echo", "a", "b"]
    assert unit.timeout("TimeoutStopSec") == 120
    assert unit.timeout("TimeoutStartSec") is None
    assert sc.span("1min 30s") == 90
    assert sc.span("90") == 90
    assert sc.span("500ms") == 0.5
    assert sc.command("/bin/x $V ${V}z $$", {"V": "a b"})[0] == ["/bin/x", "a", "b", "a bz", "$"]


def test_a_simple_service_runs_detached_until_stopped(lab: Lab) -> None:
    lab.unit("a.service", "[Unit]\nDescription=A sleeper\n[Service]\nExecStart=/bin/sleep 60\n")
    started = lab.run("start", "a")  # captured pipes: returns only if the service holds none
    assert started.returncode == 0, started.stderr
    pid = int(str(lab.state("a.service")["pid"]))
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "sleep"
    assert os.getsid(pid) == pid
    assert lab.run("is-active", "a.service").stdout == "active\n"
    status = lab.run("status", "a")
    assert status.returncode == 0
    assert status.stdout.startswith("● a.service - A sleeper\n     Loaded: loaded (/lib/systemd")
    assert "     Active: active (running) since " in status.stdout
    assert f"   Main PID: {pid} (sleep)" in status.stdout
    assert lab.run("start", "a").returncode == 0
    assert lab.state("a.service")["pid"] == pid
    assert lab.run("stop", "a").returncode == 0
    assert gone(pid)
    done = lab.run("is-active", "a")
    assert (done.stdout, done.returncode) == ("inactive\n", 3)
    assert lab.run("stop", "a").returncode == 0
    assert "Stopped A sleeper." in lab.log("a.service")


def test_wants_start_in_after_order_and_part_of_stops_with_its_unit(lab: Lab) -> None:
    order = lab.root / "order"
    pre = f"ExecStartPre=/bin/sh -c 'echo %s >> {order}'\n"
    lab.unit(
        "a.service",
        "[Unit]\nWants=b.service c.timer ghost.service\nAfter=c.timer\n"
        f"[Service]\n{pre % 'a'}ExecStart=/bin/sleep 60\n",
    )
    lab.unit("b.service", f"[Unit]\nAfter=a.service\nPartOf=a.service\n[Service]\n{pre % 'b'}")
    lab.unit("c.timer", "[Unit]\nDescription=C\nBefore=b.service\n[Timer]\nOnCalendar=daily\n")
    lab.units.joinpath("b.service").write_text(
        lab.units.joinpath("b.service").read_text() + "ExecStart=/bin/sleep 60\n"
    )
    assert lab.run("start", "a").returncode == 0
    assert order.read_text().split() == ["a", "b"]
    listed = lab.run("list-units", "--plain", "--no-legend")
    assert listed.stdout.splitlines() == [
        "a.service loaded active running a.service",
        "b.service loaded active running b.service",
        "c.timer   loaded active waiting C",
    ]
    b = int(str(lab.state("b.service")["pid"]))
    assert lab.run("stop", "a").returncode == 0
    assert gone(b)
    assert lab.run("is-active", "a", "b", "c.timer").stdout.split() == ["inactive"] * 2 + ["active"]


def test_a_missing_required_unit_fails_the_start(lab: Lab) -> None:
    lab.unit("a.service", "[Unit]\nRequires=ghost.service\n[Service]\nExecStart=/bin/sleep 60\n")
    done = lab.run("start", "a")
    assert (done.returncode, done.stderr) == (
        5,
        "Failed to start a.service: Unit ghost.service not found.\n",
    )


def test_notify_waits_for_ready_and_takes_mainpid(lab: Lab) -> None:
    script = lab.root / "notify.py"
    script.write_text(
        "import os, socket, subprocess, time\n"
        "a = os.environ['NOTIFY_SOCKET']\n"
        "a = '\\0' + a[1:] if a[0] == '@' else a\n"
        "child = subprocess.Popen(['/bin/sleep', '60'])\n"
        "time.sleep(0.3)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "s.sendto(f'STATUS=up\\nMAINPID={child.pid}\\nREADY=1'.encode(), a)\n"
        "child.wait()\n"
    )
    lab.unit("n.service", f"[Service]\nType=notify\nExecStart={sys.executable} {script}\n")
    began = time.monotonic()
    assert lab.run("start", "n").returncode == 0
    assert time.monotonic() - began > 0.3
    pid = int(str(lab.state("n.service")["pid"]))
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "sleep"
    assert lab.run("stop", "n").returncode == 0
    assert gone(pid)


def test_notify_fails_when_the_process_exits_before_ready(lab: Lab) -> None:
    post = lab.root / "post"
    lab.unit(
        "n.service",
        "[Service]\nType=notify\nExecStart=/bin/sh -c 'echo dying; exit 1'\n"
        f"ExecStopPost=/bin/touch {post}\n",
    )
    done = lab.run("start", "n")
    assert done.returncode == 1
    assert done.stderr == (
        "Job for n.service failed because the control process exited with error code.\n"
        'See "systemctl status n.service" and "journalctl -xeu n.service" for details.\n'
    )
    assert post.exists()
    assert "dying" in lab.log("n.service")
    assert lab.run("is-failed", "n").stdout == "failed\n"
    status = lab.run("status", "n")
    assert status.returncode == 3
    assert "Active: failed (Result: failed)" in status.stdout
    assert lab.run("reset-failed", "n").returncode == 0
    assert lab.run("is-active", "n").stdout == "inactive\n"


def test_a_notify_timeout_fails_and_kills(lab: Lab) -> None:
    lab.unit("n.service", "[Service]\nType=notify\nExecStart=/bin/sleep 60\nTimeoutStartSec=0.3\n")
    done = lab.run("start", "n")
    assert done.returncode == 1
    assert done.stderr.startswith("Job for n.service failed because a timeout was exceeded.\n")
    sid = int(str(lab.state("n.service")["sid"]))
    assert sid
    assert gone(sid)


@pytest.mark.parametrize("pidfile", [True, False])
def test_forking_finds_the_daemon(lab: Lab, pidfile: bool) -> None:
    path = lab.root / "d.pid"
    line = f"PIDFile={path}\n" if pidfile else ""
    lab.unit(
        "f.service",
        f"[Service]\nType=forking\n{line}"
        f"ExecStart=/bin/sh -c 'setsid /bin/sleep 60 & echo $! > {path}'\n",
    )
    assert lab.run("start", "f").returncode == 0
    pid = int(path.read_text())
    assert lab.state("f.service")["pid"] == pid
    assert lab.run("stop", "f").returncode == 0
    assert gone(pid)
    assert path.exists() != pidfile  # systemd removes the PIDFile after the stop


def test_oneshot_pre_failures_environment_and_user(lab: Lab) -> None:
    (lab.root / "env").write_text("# comment\nC='from file'\n")
    lab.unit(
        "o.service",
        f"""\
        [Service]
        Type=oneshot
        User=nobody
        WorkingDirectory=/
        Environment="A=one two" B=b
        EnvironmentFile={lab.root}/env
        EnvironmentFile=-/nonexistent
        ExecStartPre=-/bin/false
        ExecStart=/bin/sh -c 'echo "A=$A B=$B C=$C HOME=$HOME" u=$(id -un) wd=$(pwd)'
        ExecStart=/bin/echo second ${{B}}
        """,
    )
    assert lab.run("start", "o").returncode == 0
    log = lab.log("o.service")
    assert "A=one two B=b C=from file HOME=/nonexistent u=nobody wd=/\nsecond b\n" in log
    assert lab.run("is-active", "o").stdout == "inactive\n"
    lab.unit("r.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
    assert lab.run("start", "r").returncode == 0
    assert lab.run("show", "r", "-p", "ActiveState,SubState").stdout == (
        "ActiveState=active\nSubState=exited\n"
    )
    lab.unit("p.service", "[Service]\nExecStartPre=/bin/false\nExecStart=/bin/sleep 60\n")
    assert lab.run("start", "p").returncode == 1
    assert lab.run("show", "p", "--property=ActiveState", "--value").stdout == "failed\n"


def test_asserts_fail_and_conditions_skip(lab: Lab) -> None:
    lab.unit(
        "a.service", "[Unit]\nAssertFileNotEmpty=/nonexistent\n[Service]\nExecStart=/bin/true\n"
    )
    lab.unit("c.service", "[Unit]\nConditionPathExists=!/\n[Service]\nExecStart=/bin/sleep 60\n")
    done = lab.run("start", "a")
    assert (done.returncode, done.stderr) == (1, "Assertion failed on job for a.service.\n")
    assert lab.run("start", "c").returncode == 0
    assert lab.run("is-active", "c").stdout == "inactive\n"


def test_a_dead_main_process_is_failed_and_can_start_again(lab: Lab) -> None:
    lab.unit("a.service", "[Service]\nExecStart=/bin/sleep 60\n")
    assert lab.run("start", "a").returncode == 0
    pid = int(str(lab.state("a.service")["pid"]))
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    assert lab.run("is-active", "a").stdout == "failed\n"
    assert "● a.service" in lab.run("list-units").stdout
    assert lab.run("start", "a").returncode == 0
    assert lab.run("is-active", "a").stdout == "active\n"


def test_stop_escalates_to_sigkill_and_globs_stop_loaded_units(lab: Lab) -> None:
    body = "ExecStart=/bin/sh -c 'trap \"\" TERM; while :; do sleep 0.05; done'\n"
    lab.unit("one-x.service", f"[Service]\n{body}TimeoutStopSec=0.3\n")
    lab.unit("one-y.service", "[Service]\nExecStart=/bin/sleep 60\n")
    assert lab.run("start", "one-x", "one-y").returncode == 0
    pids = [int(str(lab.state(f"one-{u}.service")["pid"])) for u in "xy"]
    began = time.monotonic()
    assert lab.run("stop", "one-*", "nothing-*").returncode == 0
    assert 0.3 < time.monotonic() - began < 3
    assert all(gone(p) for p in pids)
    unknown = lab.run("stop", "ghost")
    assert (unknown.returncode, unknown.stderr) == (
        5,
        "Failed to stop ghost.service: Unit ghost.service not loaded.\n",
    )


def test_parallel_starts_run_one_main_process(lab: Lab) -> None:
    lab.unit("a.service", "[Service]\nExecStartPre=/bin/sleep 0.2\nExecStart=/bin/sleep 60\n")
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda v=verb: results.append(lab.run(v, "a").returncode))
        for verb in ("start", "start", "restart")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0, 0]
    out = subprocess.run(["pgrep", "-x", "sleep"], capture_output=True, text=True, check=False)
    mine = [p for p in out.stdout.split() if os.getsid(int(p)) == lab.state("a.service")["sid"]]
    assert len(mine) == 1


def test_enable_disable_mask_and_unit_files(lab: Lab) -> None:
    lab.unit(
        "a.service", "[Service]\nExecStart=/bin/sleep 60\n[Install]\nWantedBy=multi-user.target\n"
    )
    lab.unit("s.service", "[Service]\nExecStart=/bin/sleep 60\n")
    assert lab.run("is-enabled", "a").stdout == "disabled\n"
    done = lab.run("enable", "a")
    assert done.stdout == (
        "Created symlink /etc/systemd/system/multi-user.target.wants/a.service"
        " → /lib/systemd/system/a.service.\n"
    )
    enabled = lab.run("is-enabled", "a")
    assert (enabled.returncode, enabled.stdout) == (0, "enabled\n")
    files = lab.run("list-unit-files")
    assert files.stdout == (
        "UNIT FILE STATE   VENDOR PRESET\n"
        "a.service enabled enabled\n"
        "s.service static  -\n\n"
        "2 unit files listed.\n"
    )
    assert lab.run("disable", "a").stdout == (
        'Removed "/etc/systemd/system/multi-user.target.wants/a.service".\n'
    )
    assert lab.run("is-enabled", "a").returncode == 1
    assert (
        lab.run("mask", "s").stdout
        == "Created symlink /etc/systemd/system/s.service → /dev/null.\n"
    )
    masked = lab.run("start", "s")
    assert (masked.returncode, masked.stderr) == (
        1,
        "Failed to start s.service: Unit s.service is masked.\n",
    )
    assert lab.run("is-enabled", "s").stdout == "masked\n"
    assert lab.run("unmask", "s").returncode == 0
    assert lab.run("enable", "--now", "-q", "a").returncode == 0
    assert lab.run("is-active", "a").stdout == "active\n"


def test_list_units_formats_and_filters(lab: Lab) -> None:
    lab.unit("a.service", "[Unit]\nDescription=The A\n[Service]\nExecStart=/bin/sleep 60\n")
    lab.unit("bb.service", "[Unit]\nDescription=The B\n[Service]\nExecStart=/bin/false\n")
    lab.unit("t.target", "[Unit]\nDescription=T\n")
    assert lab.run("start", "a", "t.target").returncode == 0
    listed = lab.run("list-units", "--all")
    assert listed.stdout.splitlines()[:4] == [
        "  UNIT       LOAD   ACTIVE   SUB     DESCRIPTION",
        "  a.service  loaded active   running The A",
        "  bb.service loaded inactive dead    The B",
        "  t.target   loaded active   active  T",
    ]
    assert listed.stdout.splitlines()[-2] == "3 loaded units listed."
    short = lab.run("--no-pager", "list-units", "--type=service")
    assert short.stdout.splitlines()[1] == "  a.service loaded active running The A"
    assert (
        "1 loaded units listed. Pass --all to see loaded but inactive units, too." in short.stdout
    )
    dead = lab.run("list-units", "--state=dead", "--plain", "--no-legend", "*.service")
    assert dead.stdout == "bb.service loaded inactive dead The B\n"


def test_errors_and_read_only_answers(lab: Lab) -> None:
    unknown = lab.run("start", "ghost")
    assert (unknown.returncode, unknown.stderr) == (
        5,
        "Failed to start ghost.service: Unit ghost.service not found.\n",
    )
    status = lab.run("status", "ghost")
    assert (status.returncode, status.stderr) == (4, "Unit ghost.service could not be found.\n")
    verb = lab.run("frobnicate")
    assert (verb.returncode, verb.stderr) == (1, 'Unknown command verb "frobnicate".\n')
    assert lab.run("daemon-reload").returncode == 0
    assert lab.run("is-active", "ghost").stdout == "inactive\n"
    assert lab.run("-q", "is-active", "ghost").stdout == ""


def _spans(path: Path) -> dict[str, tuple[float, float]]:
    """Each job's (begin, end) as its Exec lines wrote them to `path`."""
    marks: dict[str, dict[str, float]] = {}
    for line in path.read_text().split("\n"):
        if line:
            what, name, when = line.split()
            marks.setdefault(name, {})[what] = float(when)
    return {name: (m["begin"], m["end"]) for name, m in marks.items()}


def test_one_call_is_one_transaction_of_parallel_jobs_in_after_order(lab: Lab) -> None:
    log = lab.root / "spans"
    script = lab.root / "mark"
    script.write_text(f'#!/bin/sh\necho "$1 $2 $(date +%s.%N)" >> {log}\n')
    script.chmod(0o755)

    def unit(name: str, extra: str = "") -> None:
        begin, end = f"{script} begin {name}", f"{script} end {name}"
        lab.unit(
            f"{name}.service",
            f"[Unit]\n{extra}\n[Service]\nExecStartPre={begin}\nExecStartPre=/bin/sleep 0.4\n"
            f"ExecStartPre={end}\nExecStart=/bin/sleep 60\n"
            f"ExecStop={begin}\nExecStop=/bin/sleep 0.4\nExecStop={end}\n",
        )

    unit("a")
    unit("b")
    unit("c", "After=a.service")
    assert lab.run("start", "c", "a", "b").returncode == 0
    spans = _spans(log)
    assert spans["a"][0] < spans["b"][1]  # a and b at once
    assert spans["b"][0] < spans["a"][1]
    assert spans["c"][0] >= spans["a"][1]  # c only once a is started
    log.unlink()
    assert lab.run("stop", "a", "b", "c").returncode == 0
    spans = _spans(log)
    assert spans["b"][0] < spans["c"][1]  # b and c at once
    assert spans["c"][0] < spans["b"][1]
    assert spans["a"][0] >= spans["c"][1]  # the reverse order: c stops before a
    assert lab.run("is-active", "a", "b", "c").stdout.split() == ["inactive"] * 3


def test_a_failed_start_fails_what_requires_it_and_nothing_else(lab: Lab) -> None:
    lab.unit("broken.service", "[Service]\nExecStartPre=/bin/false\nExecStart=/bin/sleep 60\n")
    lab.unit(
        "needs.service",
        "[Unit]\nRequires=broken.service\nAfter=broken.service\n"
        "[Service]\nExecStart=/bin/sleep 60\n",
    )
    lab.unit("other.service", "[Service]\nExecStart=/bin/sleep 60\n")
    done = lab.run("start", "needs", "other")
    assert done.returncode == 1
    assert done.stderr == (
        "A dependency job for needs.service failed. See 'journalctl -xe' for details.\n"
    )
    states = lab.run("is-active", "broken", "needs", "other").stdout.split()
    assert states == ["failed", "inactive", "active"]

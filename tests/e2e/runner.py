"""Running the real runbook against a lab, and reading what it left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onelab import Lab
from onelab.invoke import ROOT, runbook_argv


def health_timeout(lab: Lab) -> str:
    """--health-timeout for a run on `lab`: 60 s on the simulation (a failing test learns
    it soon); the runbook's own 300 s on real OpenNebula, where a dummy host whose probes
    missed their interval on a loaded machine is restarted by monitord (a cycle of
    MONITORING_INTERVAL_HOST plus a start of 10 s or more) before it reports again."""
    return "300" if lab.real else "60"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    report_dir: Path
    audit: list[dict[str, Any]]
    html: Path | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def commands(self, *, mutating: bool | None = None) -> list[dict[str, Any]]:
        """Commands the run EXECUTED (planned ones of a dry run are not executed)."""
        found = [r for r in self.audit if r.get("kind") == "command" and not r.get("planned")]
        if mutating is not None:
            found = [r for r in found if bool(r.get("mutating")) == mutating]
        return found


def run_runbook(
    lab: Lab,
    report_dir: Path,
    *args: str,
    inventory: Path | None = None,
    timeout: float = 900,
    procedure: str = "runbook/",
) -> Run:
    before = set(report_dir.glob("*/*.jsonl"))
    result = subprocess.run(
        runbook_argv(
            inventory or lab.inventory_path,
            "--report-dir",
            str(report_dir),
            "-v",
            "-p",
            "no:randomly",
            "--vm-timeout",
            "60",
            "--health-timeout",
            health_timeout(lab),
            *args,
            procedure=procedure,
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return finished_run(report_dir, before, result.returncode, result.stdout, result.stderr)


def finished_run(
    report_dir: Path, before: set[Path], returncode: int, stdout: str = "", stderr: str = ""
) -> Run:
    """A run that has ended: the audit log (and report) it added to `report_dir`, whose
    audit logs were `before` it started."""
    logs = sorted(set(report_dir.glob("*/*.jsonl")) - before, key=lambda p: p.stat().st_mtime)
    audit: list[dict[str, Any]] = []
    html = None
    if logs:
        audit = [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]
        candidate = logs[-1].with_suffix(".html")
        html = candidate if candidate.exists() else None
    return Run(returncode, stdout, stderr, report_dir, audit, html)


def stopped_line(run: Run) -> str:
    """The STOPPED: line of a run that failed (exit 1)."""
    assert run.returncode == 1, run.output[-4000:]
    stopped = [ln for ln in run.output.splitlines() if ln.startswith("STOPPED:")]
    assert stopped, run.output[-4000:]
    return stopped[0]


def step_of(record: dict[str, Any]) -> int:
    """The runbook step an audit record belongs to (-1: none)."""
    return int(str(record.get("step", "-1")).split(":")[0] or -1)


def changes_in_steps(run: Run, steps: range) -> list[str]:
    """The changing commands the run ran in `steps`, as `node: command`."""
    return [
        f"{r['node']}: {r['command']}" for r in run.commands(mutating=True) if step_of(r) in steps
    ]


def sh(lab: Lab, node: str, command: str) -> str:
    rc, out, err = lab.run(node, command)
    assert rc == 0, f"{node}$ {command}\nexit {rc}\n{out}{err}"
    return out


def zone(lab: Lab, node: str = "fe1") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sh(lab, node, "onezone show 0 -j"))["ZONE"]
    return data


def hosts(lab: Lab) -> list[dict[str, Any]]:
    pool = json.loads(sh(lab, "fe1", "onehost list -j"))["HOST_POOL"] or {}
    found = pool.get("HOST", [])
    return [found] if isinstance(found, dict) else list(found)


def frontends(lab: Lab) -> list[str]:
    return [n for n in lab.names if n.startswith("fe")]


def hypervisors(lab: Lab) -> list[str]:
    return [n for n in lab.names if n.startswith("hv")]


def package_version(lab: Lab, node: str, package: str) -> str:
    if "alma" in sh(lab, node, "cat /etc/os-release").lower():
        return sh(lab, node, f"rpm -q --qf '%{{VERSION}}' {package}").strip()
    return sh(lab, node, f"dpkg-query -W -f='${{Version}}' {package}").split("-")[0].strip()


def server_ids(lab: Lab) -> dict[str, str]:
    ids = {}
    for node in frontends(lab):
        text = sh(lab, node, "grep -E '^\\s*SERVER_ID\\s*=' /etc/one/oned.conf")
        ids[node] = text.split("=")[1].strip().rstrip(",")
    return ids


def state_before(lab: Lab) -> tuple[dict[str, str], set[str]]:
    """What the end state is judged against: SERVER_IDs and the hosts enabled before."""
    enabled = {h["NAME"] for h in hosts(lab) if h["STATE"] not in ("4", "8")}
    return server_ids(lab), enabled


def assert_raft_in_sync(lab: Lab, patience: float = 5.0) -> None:
    """One leader, all on its TERM, every follower reaching the leader's COMMIT.

    A follower learns the leader's commit on the next heartbeat, so it is judged
    against the COMMIT the leader showed in the first reading, over a few readings.
    """
    servers = zone(lab).get("SERVER_POOL", {}).get("SERVER", [])
    if not servers:
        return
    states = sorted(s["STATE"] for s in servers)
    assert states == ["2"] * (len(servers) - 1) + ["3"], f"raft states {states}"
    leader = next(s for s in servers if s["STATE"] == "3")
    target = int(leader["COMMIT"])
    deadline = time.monotonic() + patience
    while True:
        for s in servers:
            assert s["TERM"] == leader["TERM"], s
        behind = [s for s in servers if int(s["COMMIT"]) < target]
        if not behind:
            return
        assert time.monotonic() < deadline, f"followers not reaching commit {target}: {behind}"
        time.sleep(0.25)
        servers = zone(lab).get("SERVER_POOL", {}).get("SERVER", [])


def assert_healthy_at(
    lab: Lab,
    series: str,
    ids_before: dict[str, str],
    enabled_before: set[str],
    backed_up: tuple[str, ...] | None = None,
) -> None:
    """The end state an operator checks after the upgrade."""
    z = zone(lab)
    assert z["STATE"] == "0", "the zone is still disabled"
    assert_raft_in_sync(lab)
    for node in frontends(lab):
        assert package_version(lab, node, "opennebula").startswith(series + "."), node
        owner = sh(lab, node, "find /etc/one /var/lib/one/remotes/etc ! -user oneadmin | head -1")
        assert owner.strip() == "", f"{node}: {owner} not owned by oneadmin"
        if backed_up is not None and node not in backed_up:
            continue  # (`backed_up`: the front-ends the upgrade reached; default all)
        backups = sh(lab, node, "ls -d /etc/one.* /var/lib/one/remotes/etc.* 2>/dev/null || true")
        assert "/etc/one." in backups, f"{node}: no backup of /etc/one"
        assert "/remotes/etc." in backups, f"{node}: no backup of remotes/etc"
    assert server_ids(lab) == ids_before
    for node in hypervisors(lab):
        version = package_version(lab, node, "opennebula-node-kvm")
        assert version.startswith(series + "."), f"{node}: {version}"
    for host in hosts(lab):
        if host["NAME"] in enabled_before:
            assert host["STATE"] == "2", f"{host['NAME']} is {host['STATE']}, not MONITORED"
        else:
            assert host["STATE"] in ("4", "8"), f"{host['NAME']} was not enabled before"


@contextmanager
def runbook_in_background(lab: Lab, report_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`start_runbook`, killed (SIGKILL to its group) if still running when the block ends."""
    proc = start_runbook(lab, report_dir)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_runbook(lab: Lab, report_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    """The runbook in the background (its own process group), for faults mid-run."""
    return subprocess.Popen(
        runbook_argv(
            lab.inventory_path,
            "--report-dir",
            str(report_dir),
            "-q",
            "--health-timeout",
            health_timeout(lab),
            *args,
        ),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def journal_steps(report_dir: Path) -> dict[str, Any]:
    """The current campaign's steps from the journal under report_dir ({} while absent)."""
    for path in report_dir.glob("*/journal.json"):
        try:
            steps: dict[str, Any] = (json.loads(path.read_text()).get("campaign") or {}).get(
                "steps", {}
            )
            return steps
        except ValueError:
            return {}  # caught mid-replace: the next look sees it whole
    return {}


def wait_for_step(report_dir: Path, module: str, outcome: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if any(
            module in sid and e["outcome"] == outcome
            for sid, e in journal_steps(report_dir).items()
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"the run never had {module} {outcome}")


class CmdlineWatch:
    """Samples every process's command line on this machine (the lab's nodes share its
    /proc) while the runbook runs: the password must never be on one."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.hits: list[str] = []
        self.argvs: set[tuple[str, ...]] = set()  # the command lines it was on, masked
        self.sudo_seen = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CmdlineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples += 1
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmdline = fh.read()
                except OSError:
                    continue
                if self.secret in cmdline:
                    self.hits.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
                    words = cmdline.rstrip(b"\0").replace(self.secret, b"<secret>").split(b"\0")
                    self.argvs.add(tuple(w.decode(errors="replace") for w in words))
                if cmdline.startswith(b"sudo\0-k\0-S\0"):
                    self.sudo_seen += 1
            time.sleep(0.005)

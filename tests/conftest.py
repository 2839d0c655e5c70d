"""Shared fixtures: an isolated HOME for every test, and labs of real sshd nodes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from onelab import Lab

LabFactory = Callable[..., "Lab"]
HOST_FILES = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/root/.bashrc")


def lab_unavailable() -> str | None:
    """Why this machine cannot build a lab, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (mount namespaces, overlayfs)"
    for tool in ("/usr/sbin/sshd", "/usr/bin/unshare", "/usr/bin/rsync"):
        if not os.path.exists(tool):
            return f"the lab needs {tool}"
    return None


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (CI's stop, `kill`) unwinds as Ctrl-C does: pytest then tears the fixtures
    # down, and every lab a fixture started goes down with its own processes. Without
    # this, Python's default ends the process at once and the labs keep running.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def pytest_sessionstart(session: pytest.Session) -> None:
    # A lab whose holder was killed outright (SIGKILL, OOM) keeps running; the next run
    # takes it down by the process ids and namespaces it recorded (onelab/holders.py).
    if lab_unavailable() is None:
        from onelab import holders
        from onelab.lab import down

        holders.sweep(down)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = lab_unavailable()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("lab") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests never read the user's ssh files or agent."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def host_snapshot() -> dict[str, Any]:
    """What a lab must never change on the host: account files, root's .bashrc, /run, mounts."""
    sums: dict[str, str | None] = {}
    for path in HOST_FILES:
        try:
            sums[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except FileNotFoundError:
            sums[path] = None
    return {
        "files": sums,
        "run": sorted(os.listdir("/run")),
        "root_ssh": os.path.exists("/root/.ssh"),
        "findmnt": subprocess.run(
            ["findmnt", "-rn", "-o", "TARGET,SOURCE,FSTYPE"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout,
    }


@pytest.fixture(scope="session")
def snapshot_host() -> Callable[[], dict[str, Any]]:
    return host_snapshot


@pytest.fixture(scope="session")
def host_baseline() -> dict[str, Any]:
    """The host as it was before any lab of this session started."""
    return host_snapshot()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, host_baseline: dict[str, Any]) -> Iterator[Lab]:
    """One shared lab (3 front-ends + 2 hypervisors, 6.10, debian12) for read-only tests."""
    from onelab import Lab

    with Lab.up(tmp_path_factory.mktemp("lab"), frontends=3, hypervisors=2) as shared_lab:
        yield shared_lab


@pytest.fixture
def make_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Factory for destructive tests: each call builds a lab of its own, torn down after."""
    from onelab import Lab

    labs: list[Lab] = []

    def factory(**kwargs: Any) -> Lab:
        kwargs.setdefault("frontends", 1)
        kwargs.setdefault("hypervisors", 0)
        new = Lab.up(tmp_path_factory.mktemp("lab"), **kwargs)
        labs.append(new)
        return new

    yield factory
    for built in labs:
        built.down()


@pytest.fixture
def lab_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m onelab ARGS...`."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "onelab", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )

    return run

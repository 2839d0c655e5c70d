"""Bad inventories and options: one line naming file, line or key and the fix, a usage-error
exit status, no traceback, and no connection opened (the nodes' addresses point at a listener
here)."""

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from onelab.invoke import ROOT, runbook_argv


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener standing in for every node: a connection attempt would show up here."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _good(port: int) -> dict[str, str]:
    return {
        "head": 'cluster: prod\nzone: 0\ntarget: "7.0"\n',
        "ssh": "ssh:\n  user: root\n  identity_file: key\n  known_hosts: known_hosts\n"
        f"  port: {port}\n",
        "frontends": "frontends:\n  - {name: fe1, address: 127.0.0.1}\n"
        "  - {name: fe2, address: 127.0.0.1, port: 1}\n",
        "hypervisors": "hypervisors:\n  - {name: hv1, address: 127.0.0.1, port: 2}\n",
    }


# (what is wrong, how to break a good inventory, what the one line must name)
CASES = [
    ("yaml syntax", lambda g: g["head"] + "ssh: [unclosed\n", "prod.yml:"),
    ("empty file", lambda g: "", "prod.yml"),
    ("not a mapping", lambda g: "- a\n- b\n", "prod.yml"),
    (
        "missing target",
        lambda g: g["head"].replace('target: "7.0"\n', "") + g["ssh"] + g["frontends"],
        "target",
    ),
    ("missing frontends", lambda g: g["head"] + g["ssh"], "frontends"),
    (
        "zone not an int",
        lambda g: g["head"].replace("zone: 0", "zone: zero") + g["ssh"] + g["frontends"],
        "zone",
    ),
    (
        "port out of range",
        lambda g: g["head"] + g["ssh"].replace("port: ", "port: 7") + g["frontends"],
        "ssh.port",
    ),
    (
        "unknown key",
        lambda g: g["head"] + g["ssh"] + g["frontends"] + "frontend_count: 3\n",
        "frontend_count",
    ),
    (
        "misspelt ssh key",
        lambda g: g["head"] + g["ssh"].replace("known_hosts:", "knownhosts:") + g["frontends"],
        "knownhosts",
    ),
    (
        "duplicate name",
        lambda g: g["head"] + g["ssh"] + g["frontends"].replace("fe2", "fe1"),
        "duplicate name",
    ),
    (
        "duplicate address",
        lambda g: g["head"] + g["ssh"] + g["frontends"].replace(", port: 1}", "}"),
        "frontends[1]",
    ),
    (
        "hypervisor kind",
        lambda g: (
            g["head"]
            + g["ssh"]
            + g["frontends"]
            + g["hypervisors"].replace("}", ", hypervisor: xen}")
        ),
        "hypervisor",
    ),
    ("frontends not a list", lambda g: g["head"] + g["ssh"] + "frontends: fe1\n", "frontends"),
    (
        "unknown target",
        lambda g: g["head"].replace('"7.0"', '"7.1"') + g["ssh"] + g["frontends"],
        "7.1",
    ),
    (
        "missing identity file",
        lambda g: g["head"] + g["ssh"].replace("key\n", "nokey\n") + g["frontends"],
        "identity_file",
    ),
    ("bad proxy", lambda g: g["head"] + "proxy: haproxy\n" + g["ssh"] + g["frontends"], "proxy"),
    (
        "bad redact pattern",
        lambda g: g["head"] + "redact: ['(']\n" + g["ssh"] + g["frontends"],
        "redact",
    ),
]


def _inventory(tmp_path: Path, text: str, key_mode: int = 0o600) -> Path:
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "key").write_text("not really a key\n")
    (tmp_path / "key").chmod(key_mode)
    inventory = tmp_path / "prod.yml"
    inventory.write_text(text)
    return inventory


def _runbook(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        runbook_argv(inventory, "-p", "no:cacheprovider", *args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal's single `ERROR:` line (exit status 4, no traceback)."""
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    return errors[0]


@pytest.mark.parametrize(("problem", "make", "named"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_inventory_is_refused_in_one_line(
    tmp_path: Path, listener: socket.socket, problem: str, make: object, named: str
) -> None:
    assert callable(make)
    inventory = _inventory(tmp_path, make(_good(listener.getsockname()[1])))
    error = _one_error(_runbook(inventory, "--report-dir", str(tmp_path / "reports")))
    assert str(inventory) in error or "prod.yml" in error
    assert named in error, error
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert not (tmp_path / "reports").exists()


def test_a_world_readable_key_is_refused(tmp_path: Path, listener: socket.socket) -> None:
    good = _good(listener.getsockname()[1])
    inventory = _inventory(tmp_path, good["head"] + good["ssh"] + good["frontends"], 0o644)
    result = _runbook(inventory)
    assert result.returncode == 4
    assert "chmod 600" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--health-timeout", "0"], "--health-timeout must be a number of seconds greater than 0"),
        (["--vm-timeout", "-5"], "--vm-timeout must be a number of seconds greater than 0"),
        (["--vm-timeout", "nan"], "--vm-timeout must be a number of seconds greater than 0"),
        (["--forks", "0"], "--forks must be at least 1"),
        (
            ["--report-dir", "/proc/oneupgrade-nope"],
            "cannot write the reports under /proc/oneupgrade-nope",
        ),
    ],
)
def test_bad_options_are_one_line_before_any_connection(
    tmp_path: Path, listener: socket.socket, args: list[str], said: str
) -> None:
    good = _good(listener.getsockname()[1])
    inventory = _inventory(tmp_path, good["head"] + good["ssh"] + good["frontends"])
    # the last --report-dir given wins: the /proc case overrides this one
    error = _one_error(_runbook(inventory, "--report-dir", str(tmp_path / "reports"), *args))
    assert said in error
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert not (tmp_path / "reports").exists()

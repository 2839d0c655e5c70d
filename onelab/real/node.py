"""A real-tier node's own files, written into its overlay before it starts.

What differs from the simulation's seeding: no simulated OpenNebula tool and no simulated
package manager. The node's apt sees only OpenNebula's repository (the lab's, mounted
read-only at REPO_MOUNT), `systemctl` is the lab's service manager running the real
processes of the installed units, and the sshd ForceCommand (faults, latencies) is the
simulation's, which runs the real command.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import stat
from pathlib import Path

from ..sim.deploy import SESSION, copy_package
from ..sim.spec import ClusterSpec, NodeSpec

REPO_MOUNT = "/var/lib/one-lab/repo"
SERVICECTL = Path(__file__).with_name("servicectl")  # the package, copied into each node
LIB = "/usr/lib/one-lab"  # the node's own programs (the simulation's session's too)
SOURCES_LIST = "/etc/apt/sources.list.d/opennebula.list"


def apt_line(series: str) -> str:
    """OpenNebula's repository line, at the lab's copy (trusted: the lab signs nothing)."""
    return f"deb [trusted=yes] file:{REPO_MOUNT}/{series}/Debian/12 stable opennebula\n"


def systemctl_program(lib: str = LIB) -> str:
    """/usr/bin/systemctl: the servicectl package in `lib`, run by the system interpreter."""
    return (
        "#!/usr/bin/python3 -IS\n"
        f"import sys; sys.dont_write_bytecode = True; sys.path.insert(0, {lib!r})\n"
        "from servicectl.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )


def _put(upper: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = upper / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _whiteout(upper: Path, rel: str) -> None:
    """Hide a host file in the node (an overlayfs whiteout: a 0/0 character device)."""
    path = upper / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def seed_node(upper: Path, spec: ClusterSpec, node: NodeSpec, series: str) -> None:
    _put(upper, "/etc/one-lab/node.json", json.dumps(node.to_json()) + "\n")
    copy_package(upper)  # the session's faults and latencies
    _put(upper, "/usr/lib/one-lab/session", SESSION, 0o755)
    _copy_servicectl(upper)
    _put(upper, "/usr/bin/systemctl", systemctl_program(), 0o755)
    # apt: OpenNebula's repository only (the host's Debian sources are hidden, so an
    # `apt-get update` on a node reads the lab's repository and nothing else).
    for rel in ("/etc/apt/sources.list", *_host_sources()):
        if rel == SOURCES_LIST:
            continue
        _whiteout(upper, rel)
    _put(upper, SOURCES_LIST, apt_line(series))
    (upper / REPO_MOUNT.lstrip("/")).mkdir(parents=True, exist_ok=True)


def _copy_servicectl(upper: Path) -> None:
    """The servicectl package, byte-compiled: every call of systemctl would compile it."""
    dst = upper / LIB.lstrip("/") / "servicectl"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(SERVICECTL, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(str(dst), quiet=1, ddir=f"{LIB}/servicectl")
    for dirpath, _dirnames, filenames in os.walk(dst):
        os.chmod(dirpath, 0o755)  # noqa: S103
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


def _host_sources() -> list[str]:
    found = Path("/etc/apt/sources.list.d")
    if not found.is_dir():
        return []
    return [f"/etc/apt/sources.list.d/{p.name}" for p in found.iterdir() if p.is_file()]


def repo_mount(repo: Path) -> str:
    """The fstab line that shows the lab's repository to a node, read-only."""
    return f"{repo} {REPO_MOUNT} none bind,ro 0 0"

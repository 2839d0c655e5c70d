"""A real-tier node's own files, written into its overlay before it starts.

What differs from the simulation's seeding: no simulated OpenNebula tool and no simulated
package manager. The node's apt sees only OpenNebula's repository (the lab's, mounted
read-only at REPO_MOUNT), `systemctl` is the lab's service manager running the real
processes of the installed units, and the sshd ForceCommand (faults, latencies) is the
simulation's, which runs the real command.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from ..sim.seed import SESSION, _copy_package
from ..sim.spec import ClusterSpec, NodeSpec

REPO_MOUNT = "/var/lib/one-lab/repo"
SERVICECTL = Path(__file__).with_name("servicectl.py")
SOURCES_LIST = "/etc/apt/sources.list.d/opennebula.list"


def apt_line(series: str) -> str:
    """OpenNebula's repository line, at the lab's copy (trusted: the lab signs nothing)."""
    return f"deb [trusted=yes] file:{REPO_MOUNT}/{series}/Debian/12 stable opennebula\n"


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
    _copy_package(upper)  # the session's faults and latencies
    _put(upper, "/usr/lib/one-lab/session", SESSION, 0o755)
    (upper / "usr/bin").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SERVICECTL, upper / "usr/bin/systemctl")
    (upper / "usr/bin/systemctl").chmod(0o755)
    # apt: OpenNebula's repository only (the host's Debian sources are hidden, so an
    # `apt-get update` on a node reads the lab's repository and nothing else).
    for rel in ("/etc/apt/sources.list", *_host_sources()):
        if rel == SOURCES_LIST:
            continue
        _whiteout(upper, rel)
    _put(upper, SOURCES_LIST, apt_line(series))
    (upper / REPO_MOUNT.lstrip("/")).mkdir(parents=True, exist_ok=True)


def _host_sources() -> list[str]:
    found = Path("/etc/apt/sources.list.d")
    if not found.is_dir():
        return []
    return [f"/etc/apt/sources.list.d/{p.name}" for p in found.iterdir() if p.is_file()]


def repo_mount(repo: Path) -> str:
    """The fstab line that shows the lab's repository to a node, read-only."""
    return f"{repo} {REPO_MOUNT} none bind,ro 0 0"

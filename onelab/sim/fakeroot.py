"""A simulated cluster in plain directories (no lab, no namespaces): for tests.

Each node is a fake root (ONESIM_ROOT) seeded by seed_node, whose
var/lib/one-lab/shared is a symlink to one shared directory. Tools run
in-process with their output captured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .main import main
from .nodefiles import seed_node
from .report import status
from .seed import seed_cluster
from .spec import ClusterSpec, NodeSpec

FE_UPGRADE = (
    "opennebula opennebula-gate opennebula-flow opennebula-fireedge opennebula-migration "
    "python3-pyone"
).split()


@dataclasses.dataclass
class Result:
    rc: int
    out: str
    err: str


class FakeCluster:
    def __init__(self, base: Path, spec: ClusterSpec) -> None:
        self.base = base
        self.spec = spec
        self.shared = base / "shared"
        seed_cluster(self.shared, spec)
        root_user = os.geteuid() == 0
        uid = 9869 if root_user else os.getuid()
        gid = 9869 if root_user else os.getgid()
        for node in spec.nodes:
            root = self.root(node.name)
            (root / "etc").mkdir(parents=True)
            (root / "etc/passwd").write_text(
                f"root:x:0:0:root:/root:/bin/bash\noneadmin:x:{uid}:{gid}::/var/lib/one:/bin/bash\n"
            )
            seed_node(root, spec, node)
            (root / "var/lib/one-lab/shared").symlink_to(self.shared)

    def root(self, name: str) -> Path:
        return self.base / "nodes" / name

    def run(self, name: str, tool: str, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        old = os.environ.get("ONESIM_ROOT")
        os.environ["ONESIM_ROOT"] = str(self.root(name))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(tool, list(argv))
        finally:
            if old is None:
                os.environ.pop("ONESIM_ROOT", None)
            else:
                os.environ["ONESIM_ROOT"] = old
        return Result(rc, out.getvalue(), err.getvalue())

    def ok(self, name: str, tool: str, *argv: str) -> Result:
        r = self.run(name, tool, *argv)
        if r.rc != 0:
            raise AssertionError(f"{name}: {tool} {' '.join(argv)} -> {r}")
        return r

    def status(self) -> dict[str, Any]:
        return status(self.shared, {n.name: self.root(n.name) for n in self.spec.nodes})

    # --------------------------------------------------------- common steps

    def switch_repo(self, name: str, series: str) -> None:
        node = next(n for n in self.spec.nodes if n.name == name)
        if node.os == "alma9":
            path = self.root(name) / "etc/yum.repos.d/opennebula.repo"
        else:
            path = self.root(name) / "etc/apt/sources.list.d/opennebula.list"
        text = path.read_text()
        for old in ("6.8", "6.10", "7.0", "7.2"):
            text = text.replace(f"/repo/{old}/", f"/repo/{series}/")
        path.write_text(text)

    def stop_all(self, name: str) -> None:
        self.ok(name, "systemctl", "stop", "opennebula*")

    def upgrade_packages(self, name: str, series: str = "7.0") -> None:
        self.switch_repo(name, series)
        self.ok(name, "apt-get", "update")
        self.ok(
            name,
            "apt-get",
            "install",
            "-y",
            "-o",
            "Dpkg::Options::=--force-confold",
            "--only-upgrade",
            *FE_UPGRADE,
        )
        # not installed before (6.x Community Edition has no migrators): installed
        migration = "opennebula-migration" if series >= "7" else "opennebula-migration-community"
        self.ok(name, "apt-get", "install", "-y", migration)


def ha_spec(
    release: str = "6.10.5", hypervisors: int = 2, os_name: str = "debian12", vms: int = 3
) -> ClusterSpec:
    """Three front-ends (fe0 leader) and `hypervisors` KVM hosts."""
    nodes = [
        NodeSpec(f"fe{i}", f"127.0.10.{i + 1}", "frontend", os_name, server_id=i) for i in range(3)
    ]
    nodes += [
        NodeSpec(f"hv{i}", f"127.0.10.{i + 11}", "hypervisor", os_name, hypervisor="kvm")
        for i in range(hypervisors)
    ]
    return ClusterSpec(nodes=nodes, release=release, vip="127.0.10.100", vms=vms)


MakeLab = Callable[..., FakeCluster]

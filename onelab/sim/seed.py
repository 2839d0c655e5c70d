"""A fresh healthy cluster: the shared state and each node's files."""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import stat
import threading
import time
import uuid
from pathlib import Path

from . import catalogue, nodestate, onedconf, state
from .osrelease import DEB_TOOLS, OS_RELEASE, RPM_TOOLS, is_rpm
from .paths import chown, oneadmin_ids, write_json, write_text
from .spec import ClusterSpec, NodeSpec

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

SEED_INDEX = 42
SIM_TOOLS = ["onezone", "onehost", "onevm", "onevnet", "onedb", "onecfg"]
WRAPPER = (
    "#!/usr/bin/python3 -IS\n"
    'import sys; sys.dont_write_bytecode = True; sys.path.insert(0, "/usr/lib/one-lab")\n'
    "from sim.main import main; sys.exit(main({tool!r}, sys.argv[1:]))\n"
)
# The sshd ForceCommand. Without any fault or latency set it runs the command
# directly: a Python start for every command of every session would cost ~20 ms.
SESSION = """#!/bin/sh
if [ -e /var/lib/one-lab/shared/rules-active ]; then
    exec /usr/bin/python3 -IS /usr/lib/one-lab/sim/session_main.py
fi
case "$SSH_ORIGINAL_COMMAND" in
    "") exec /bin/bash -l ;;
    internal-sftp|/usr/lib/openssh/sftp-server*) exec /usr/lib/openssh/sftp-server ;;
esac
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""


def leader_of(spec: ClusterSpec) -> NodeSpec:
    return spec.frontends[0]


def initial_packages(spec: ClusterSpec, node: NodeSpec) -> nodestate.Packages:
    rel = spec.release
    names = (
        [p for p in catalogue.frontend_packages(rel) if p != "opennebula-migration-community"]
        if node.frontend
        else catalogue.node_packages(node.hypervisor or "kvm")
    )
    pkgs = {n: {"version": rel, "status": "ii"} for n in names}
    if node.frontend:
        pkgs["nginx"] = {"version": catalogue.NGINX_VERSION, "status": "ii"}
    if not node.frontend and (node.hypervisor or "kvm") == "kvm":
        lib = catalogue.libvirt_package(node.os)
        pkgs[lib] = {"version": catalogue.LIBVIRT_VERSION, "status": "ii"}
    return pkgs


def initial_units(spec: ClusterSpec, node: NodeSpec) -> nodestate.Units:
    pkgs = initial_packages(spec, node)
    is_leader = node.frontend and node.name == leader_of(spec).name
    units: nodestate.Units = {}
    for unit in nodestate.existing_units(pkgs):
        active = True
        if unit.endswith(".service") and unit.replace(".service", ".timer") in [
            u for u in nodestate.existing_units(pkgs)
        ]:
            active = False  # oneshot services behind a timer
        if unit in catalogue.leader_only_units() and not is_leader:
            active = False
        units[unit] = {"state": "active" if active else "inactive", "enabled": True, "since": 0.0}
    return units


def _db(spec: ClusterSpec, lineage: str) -> dict[str, Any]:
    fes = spec.frontends
    ha = not (len(fes) == 1 and fes[0].server_id < 0)
    servers = (
        [
            {"id": i, "name": n.name, "endpoint": f"http://{n.address}:2633/RPC2"}
            for i, n in enumerate(fes)
        ]
        if ha
        else []
    )
    now = int(time.time())
    hosts = [
        {
            "id": i,
            "name": h.name,
            "status": "enabled",
            "since": 0.0,
            "hypervisor": h.hypervisor or "kvm",
            "version": spec.release,
        }
        for i, h in enumerate(spec.hypervisors)
    ]
    vms = []
    if hosts:
        for i in range(spec.vms):
            host = hosts[i % len(hosts)]
            vms.append(
                {
                    "id": i,
                    "name": f"vm-{i}",
                    "host_id": host["id"],
                    "host": host["name"],
                    "state": 3,
                    "lcm": 3,
                    "stime": now - 86400 + i * 60,
                }
            )
    sch = catalogue.schema(spec.release)
    return {
        "schema": {"shared": sch, "local": sch},
        "comment": f"OpenNebula {spec.release} daemon bootstrap",
        "lineage": lineage,
        "index": SEED_INDEX,
        "data": {
            "zone": {
                "id": 0,
                "name": spec.zone_name,
                "state": 0,
                "endpoint": f"http://{spec.vip}:2633/RPC2",
            },
            "servers": servers,
            "hosts": hosts,
            "vms": vms,
        },
    }


def seed_cluster(shared: Path, spec: ClusterSpec) -> None:
    """Write a fresh, healthy cluster state into `shared` (DIR/shared)."""
    catalogue.resolve_release(spec.release)
    lineage = uuid.uuid4().hex[:16]
    db = _db(spec, lineage)
    data: dict[str, Any] = {
        "nodes": {n.name: n.to_json() for n in spec.nodes},
        "order": [n.name for n in spec.nodes],
        "vip": spec.vip,
        "servers": db["data"]["servers"],
        "dbs": {n.name: _db_copy(db) for n in spec.frontends},
        "oned": {n.name: {"server_id": n.server_id, "started": 0.0} for n in spec.frontends},
        "raft": {"leader": leader_of(spec).name if spec.frontends else None, "term": 1},
        "probe": {
            n.name: nodestate.probe(initial_packages(spec, n), initial_units(spec, n))
            for n in spec.nodes
        },
        "holds": {},
        "down": [],
    }
    if not db["data"]["servers"]:
        data["raft"]["term"] = 0
    state.init_shared(shared, data, {"faults": {}, "latencies": {}})


def _db_copy(db: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(db)


# ----------------------------------------------------------------- node files


def _put(
    upper: Path, rel: str, text: str, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
    path = upper / rel.lstrip("/")
    if path.is_symlink():
        path.unlink()
    write_text(path, text, mode)
    if owner:
        chown(path, *owner)


def _mkdirs(upper: Path, rel: str, owner: tuple[int, int] | None = None) -> None:
    path = upper / rel.lstrip("/")
    path.mkdir(parents=True, exist_ok=True)
    if owner:
        chown(path, *owner)


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    try:
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    except PermissionError:
        pass  # unprivileged unit tests: nothing to hide


def _staged_package(stage: Path) -> Path:
    """One byte-compiled copy of this package per lab; nodes get hard links to it.

    Compiled once: without .pyc files every simulated command would recompile the
    package (~80 ms); linked: 200 nodes need no 200 copies.
    """
    with _STAGE_LOCK:
        if not (stage / "__init__.py").exists():
            _stage(stage)
    return stage


_STAGE_LOCK = threading.Lock()


def _stage(stage: Path) -> None:
    src = Path(__file__).resolve().parent
    tmp = stage.with_name(stage.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(str(tmp), quiet=1, ddir="/usr/lib/one-lab/sim")
    for dirpath, _dirnames, filenames in os.walk(tmp):
        os.chmod(dirpath, 0o755)  # noqa: S103
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    tmp.rename(stage)


def _copy_package(upper: Path) -> None:
    dst = upper / "usr/lib/one-lab/sim"
    if dst.exists():
        shutil.rmtree(dst)
    # upper is DIR/nodes/<name>/upper: the staged copy lives in DIR, on the same file system
    stage = _staged_package(upper.parent.parent.parent / ".sim-package")
    try:
        shutil.copytree(stage, dst, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(stage, dst)


def conffile_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seed_node(upper: Path, spec: ClusterSpec, node: NodeSpec) -> None:
    """Write a node's files into its overlay upper directory (or a fake root)."""
    oa = oneadmin_ids(upper)
    rel = spec.release
    _put(upper, "/etc/os-release", OS_RELEASE[node.os])
    write_json(upper / "etc/one-lab/node.json", node.to_json())
    # simulated tools
    _copy_package(upper)
    tools = ["systemctl"] + (RPM_TOOLS if is_rpm(node.os) else DEB_TOOLS)
    if node.frontend:
        tools = SIM_TOOLS + tools
    for tool in tools:
        _put(upper, f"/usr/bin/{tool}", WRAPPER.format(tool=tool), 0o755)
    for tool in DEB_TOOLS if is_rpm(node.os) else RPM_TOOLS:
        _whiteout(upper / "usr/bin" / tool)
    _put(upper, "/usr/lib/one-lab/session", SESSION, 0o755)
    # repository
    if is_rpm(node.os):
        _put(upper, "/etc/yum.repos.d/opennebula.repo", catalogue.yum_repo(rel))
    else:
        _put(upper, "/etc/apt/sources.list.d/opennebula.list", catalogue.apt_sources(rel, node.os))
        _put(upper, "/etc/apt/keyrings/opennebula.gpg", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    # OpenNebula files
    _mkdirs(upper, "/var/lib/one", oa)
    conffiles: dict[str, str] = {}
    if node.frontend:
        ha = node.server_id >= 0
        vip = spec.vip if ha else None
        oned = onedconf.oned_conf(node.server_id, vip)
        _mkdirs(upper, "/etc/one", oa)
        _put(upper, "/etc/one/oned.conf", oned, 0o640, oa)
        conffiles["/etc/one/oned.conf"] = conffile_hash(onedconf.oned_conf(-1, None))
        _put(upper, "/etc/one/monitord.conf", onedconf.monitord_conf(), 0o640, oa)
        for name, text in onedconf.other_etc_files(rel).items():
            if "/" in name:
                _mkdirs(upper, f"/etc/one/{name.rsplit('/', 1)[0]}", oa)
            _put(upper, f"/etc/one/{name}", text, 0o640, oa)
        for d in ("remotes", "remotes/etc", ".one", "datastores", "backups", "backups/config"):
            _mkdirs(upper, f"/var/lib/one/{d}", oa)
        for name, text in onedconf.remotes_etc_files().items():
            parent = name.rsplit("/", 1)[0]
            parts = parent.split("/")
            for i in range(len(parts)):
                _mkdirs(upper, "/var/lib/one/remotes/etc/" + "/".join(parts[: i + 1]), oa)
            _put(upper, f"/var/lib/one/remotes/etc/{name}", text, 0o644, oa)
        _put(upper, "/var/lib/one/remotes/VERSION", rel + "\n", 0o644, oa)
        for auth in ("one_auth", "oneflow_auth", "onegate_auth", "sunstone_auth"):
            user = "oneadmin" if auth == "one_auth" else auth.replace("_auth", "")
            _put(
                upper,
                f"/var/lib/one/.one/{auth}",
                f"{user}:5f4dcc3b5aa765d61d8327deb882cf99\n",
                0o600,
                oa,
            )
        _put(upper, "/etc/onecfg.conf", onedconf.onecfg_conf(rel))
        _mkdirs(upper, "/var/log/one", oa)
        _put(upper, "/var/log/one/oned.log", "", 0o640, oa)
    pkgs = initial_packages(spec, node)
    local = upper / "var/lib/one-lab/local"
    pk: dict[str, Any] = {"installed": pkgs, "cache": []}
    if not is_rpm(node.os):
        url = catalogue.repo_url(rel, node.os)
        pk["lists"] = {"urls": [url], "pkgs": catalogue.offered([url])}
    write_json(local / "packages.json", pk)
    write_json(local / "units.json", initial_units(spec, node))
    write_json(local / "conffiles.json", conffiles)
    for ldir in (upper / "var/lib/one-lab", local):
        os.chmod(ldir, 0o755)  # noqa: S103

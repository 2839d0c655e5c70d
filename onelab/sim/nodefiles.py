"""A fresh node's files: the simulation, the OpenNebula repository, OpenNebula's own
files (front-ends) and the node-local simulated state."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import catalogue, onedconf
from .deploy import install_tools
from .osrelease import OS_RELEASE, is_rpm
from .paths import oneadmin_ids, write_json
from .seed import initial_packages, initial_units
from .spec import ClusterSpec, NodeSpec
from .upper import mkdirs, put

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

Owner = tuple[int, int]


def conffile_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _repository(upper: Path, rel: str, node: NodeSpec) -> None:
    if is_rpm(node.os):
        put(upper, "/etc/yum.repos.d/opennebula.repo", catalogue.yum_repo(rel))
    else:
        put(upper, "/etc/apt/sources.list.d/opennebula.list", catalogue.apt_sources(rel, node.os))
        put(upper, "/etc/apt/keyrings/opennebula.gpg", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n")


def _etc_one(upper: Path, spec: ClusterSpec, node: NodeSpec, oa: Owner) -> dict[str, str]:
    """/etc/one; the pristine hashes of its conffiles."""
    ha = node.server_id >= 0
    vip = spec.vip if ha else None
    oned = onedconf.oned_conf(node.server_id, vip)
    mkdirs(upper, "/etc/one", oa)
    put(upper, "/etc/one/oned.conf", oned, 0o640, oa)
    conffiles = {"/etc/one/oned.conf": conffile_hash(onedconf.oned_conf(-1, None))}
    put(upper, "/etc/one/monitord.conf", onedconf.monitord_conf(spec.release), 0o640, oa)
    for name, text in onedconf.other_etc_files(spec.release).items():
        if "/" in name:
            mkdirs(upper, f"/etc/one/{name.rsplit('/', 1)[0]}", oa)
        put(upper, f"/etc/one/{name}", text, 0o640, oa)
    return conffiles


def _var_lib_one(upper: Path, rel: str, oa: Owner) -> None:
    for d in ("remotes", "remotes/etc", ".one", "datastores", "backups", "backups/config"):
        mkdirs(upper, f"/var/lib/one/{d}", oa)
    for name, text in onedconf.remotes_etc_files().items():
        parent = name.rsplit("/", 1)[0]
        parts = parent.split("/")
        for i in range(len(parts)):
            mkdirs(upper, "/var/lib/one/remotes/etc/" + "/".join(parts[: i + 1]), oa)
        put(upper, f"/var/lib/one/remotes/etc/{name}", text, 0o644, oa)
    put(upper, "/var/lib/one/remotes/VERSION", rel + "\n", 0o644, oa)
    for auth in ("one_auth", "oneflow_auth", "onegate_auth", "sunstone_auth"):
        user = "oneadmin" if auth == "one_auth" else auth.replace("_auth", "")
        put(
            upper,
            f"/var/lib/one/.one/{auth}",
            f"{user}:5f4dcc3b5aa765d61d8327deb882cf99\n",
            0o600,
            oa,
        )


def _frontend(upper: Path, spec: ClusterSpec, node: NodeSpec, oa: Owner) -> dict[str, str]:
    """A front-end's OpenNebula files; the pristine hashes of its conffiles."""
    rel = spec.release
    conffiles = _etc_one(upper, spec, node, oa)
    _var_lib_one(upper, rel, oa)
    put(upper, "/etc/onecfg.conf", onedconf.onecfg_conf(rel))
    mkdirs(upper, "/var/log/one", oa)
    put(upper, "/var/log/one/oned.log", "", 0o640, oa)
    return conffiles


def _local_state(upper: Path, spec: ClusterSpec, node: NodeSpec, conffiles: dict[str, str]) -> None:
    rel = spec.release
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


def seed_node(upper: Path, spec: ClusterSpec, node: NodeSpec) -> None:
    """Write a node's files into its overlay upper directory (or a fake root)."""
    oa = oneadmin_ids(upper)
    put(upper, "/etc/os-release", OS_RELEASE[node.os])
    write_json(upper / "etc/one-lab/node.json", node.to_json())
    install_tools(upper, node)
    _repository(upper, spec.release, node)
    # OpenNebula files
    mkdirs(upper, "/var/lib/one", oa)
    conffiles: dict[str, str] = {}
    if node.frontend:
        conffiles = _frontend(upper, spec, node, oa)
    _local_state(upper, spec, node, conffiles)

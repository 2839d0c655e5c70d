"""Read a one-deploy (OpenNebula's Ansible collection) inventory as is.

An operator who deployed with one-deploy already has the list of front-ends and
hypervisors in an Ansible YAML inventory; `load_inventory` accepts it unchanged::

    all:
      vars:
        ansible_user: root
        one_version: '7.0'        # the target (unless --target is given, which wins)
        one_vip: 10.11.12.69
    frontend:
      hosts:
        f1: {ansible_host: 10.11.12.10}
    node:
      hosts:
        n1: {ansible_host: 10.11.12.40}

What is read: the groups `frontend` and `node` (or the names in `frontend_group` /
`node_group`), at the top level or under `all.children`; per host `ansible_host`,
`ansible_user`, `ansible_port`, `ansible_ssh_private_key_file`, looked up host vars,
then group vars, then `all.vars`, as Ansible does; `one_version`, `one_vip`,
`ansible_become(_method)` from `all.vars`. The groups `bastion`, `grafana` and
`router` are ignored; any other group is an error (it may hold nodes this tool
would silently leave on the old version). Values templated with Jinja cannot be
evaluated here and are an error when they are needed.

What a one-deploy inventory does not say: the cluster name (the file's stem), the
known_hosts file (`$ONEUPGRADE_KNOWN_HOSTS`, else `~/.ssh/known_hosts`), the zone
(0), the web proxy (`auto`). Password-like values it holds (`one_pass`,
`db_password`...) are kept in `Inventory.secrets` for the redactor, never shown.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path
from typing import Any

from oneupgrade.inventory.document import Document, InventoryError, KeyPath, describe
from oneupgrade.inventory.fields import (
    as_address,
    as_cluster,
    as_mapping,
    as_target,
    as_text,
    check_keys,
    check_target_override,
    check_unique,
    existing_file,
)
from oneupgrade.inventory.model import Inventory, SshSettings
from oneupgrade.inventory.onedeploy_hosts import Defaults, HostReader, no_template

KNOWN_HOSTS_ENV = "ONEUPGRADE_KNOWN_HOSTS"
IGNORED_GROUPS = ("bastion", "grafana", "router")
_ALL_KEYS = ("hosts", "vars", "children")

# Each group by name: its value as written and where it is.
Groups = dict[str, tuple[Any, KeyPath]]


def is_onedeploy(data: Any) -> bool:
    """An Ansible YAML inventory: `all:` with children/vars/hosts, or groups frontend/node."""
    if not isinstance(data, dict) or "frontends" in data or "cluster" in data:
        return False
    top = data.get("all")
    if isinstance(top, dict) and any(k in top for k in _ALL_KEYS):
        return True
    return "frontend" in data or "node" in data


def build(doc: Document, data: dict[Any, Any], *, target_override: str | None) -> Inventory:
    """The inventory a one-deploy document describes; `InventoryError` on the first problem."""
    all_vars, groups = _groups(doc, data)
    fe_group, node_group = _understood_groups(doc, all_vars, groups)
    target = _target(doc, all_vars, target_override)
    vip = _vip(doc, all_vars)
    become = _become(doc, all_vars)

    defaults = Defaults.read(doc, all_vars)
    reader = HostReader(doc, all_vars, defaults)
    for role, gname in (("frontend", fe_group), ("hypervisor", node_group)):
        if gname in groups:
            reader.group(role, gname, *groups[gname])
    check_unique(doc, reader.located, name_key=None, address_key="ansible_host")
    ssh = SshSettings(
        user=defaults.user,
        identity_file=reader.identity(),
        known_hosts=_known_hosts(doc),
        port=defaults.port,
        become=become,
        port_given=defaults.port_given,
    )
    hosts = [h for h, _ in reader.located]
    return Inventory(
        path=doc.path.resolve(),
        sha256=hashlib.sha256(doc.raw).hexdigest(),
        cluster=_cluster_name(doc),
        zone=0,
        target=target,
        vip=vip,
        proxy="auto",
        redact=(),
        ssh=ssh,
        frontends=tuple(h for h in hosts if h.role == "frontend"),
        hypervisors=tuple(h for h in hosts if h.role == "hypervisor"),
        discover_hypervisors=False,
        format="one-deploy",
        secrets=tuple(dict.fromkeys(reader.secrets)),
    )


# --------------------------------------------------------------------------- groups


def _groups(doc: Document, data: dict[Any, Any]) -> tuple[dict[Any, Any], Groups]:
    """`all.vars` and every group, at the top level or under `all.children`."""
    all_vars, groups = _all_section(doc, data.get("all"))
    for name, group in data.items():
        if name == "all":
            continue
        if str(name) in groups:
            raise doc.error(
                (str(name),),
                f"group {name!r} is also defined under all.children (line "
                f"{doc.line(groups[str(name)][1])}); define it once",
            )
        groups[str(name)] = (group, (str(name),))
    return all_vars, groups


def _all_section(doc: Document, top_all: Any) -> tuple[dict[Any, Any], Groups]:
    all_vars: dict[Any, Any] = {}
    groups: Groups = {}
    if top_all is None:
        return all_vars, groups
    top_all = as_mapping(doc, top_all, ("all",), "give it vars, children or hosts")
    check_keys(doc, top_all, ("all",), _ALL_KEYS)
    if top_all.get("hosts"):
        raise doc.error(
            ("all", "hosts"),
            "hosts directly under all belong to no group; put front-ends under frontend "
            "and hypervisors under node",
        )
    if top_all.get("vars") is not None:
        all_vars = as_mapping(doc, top_all["vars"], ("all", "vars"), "give variables")
    children = top_all.get("children")
    if children is not None:
        children = as_mapping(doc, children, ("all", "children"), "give groups")
        for name, group in children.items():
            groups[str(name)] = (group, ("all", "children", str(name)))
    return all_vars, groups


def _group_name(doc: Document, all_vars: dict[Any, Any], var: str, default: str) -> str:
    if all_vars.get(var) is None:
        return default
    no_template(doc, all_vars[var], ("all", "vars", var))
    return as_text(doc, all_vars[var], ("all", "vars", var))


def _understood_groups(doc: Document, all_vars: dict[Any, Any], groups: Groups) -> tuple[str, str]:
    """The front-end and node group names; any group neither read nor ignored is an error."""
    fe_group = _group_name(doc, all_vars, "frontend_group", "frontend")
    node_group = _group_name(doc, all_vars, "node_group", "node")
    ignored = {
        _group_name(doc, all_vars, "router_group", "router"),
        _group_name(doc, all_vars, "grafana_group", "grafana"),
        "bastion",
    }
    understood = (fe_group, node_group)
    for name, (_, path) in groups.items():
        if name in understood or name in ignored:
            continue
        close = difflib.get_close_matches(name, [*understood, *sorted(ignored)], n=1, cutoff=0.6)
        fix = (
            f"did you mean {close[0]!r}?"
            if close
            else (
                f"this tool reads {fe_group} and {node_group} (and ignores "
                f"{', '.join(sorted(ignored))}); move its hosts there or remove it"
            )
        )
        raise doc.error(path, f"unknown group {name!r}; {fix}")
    if fe_group not in groups:
        raise doc.error(
            (), f"no {fe_group} group; list the front-ends under {fe_group}: hosts:", line=1
        )
    return fe_group, node_group


# --------------------------------------------------------------------------- all.vars


def _target(doc: Document, all_vars: dict[Any, Any], target_override: str | None) -> str:
    if target_override is not None:
        return check_target_override(doc, target_override)
    if all_vars.get("one_version") is None:
        raise doc.error(
            ("all", "vars", "one_version"),
            "missing; set one_version to the target release or pass --target",
            line=doc.line(("all", "vars")),
        )
    no_template(doc, all_vars["one_version"], ("all", "vars", "one_version"))
    return as_target(doc, all_vars["one_version"], ("all", "vars", "one_version"))


def _vip(doc: Document, all_vars: dict[Any, Any]) -> str | None:
    if all_vars.get("one_vip") is None:
        return None
    no_template(doc, all_vars["one_vip"], ("all", "vars", "one_vip"))
    return as_address(doc, all_vars["one_vip"], ("all", "vars", "one_vip"))


def _become(doc: Document, all_vars: dict[Any, Any]) -> str:
    if all_vars.get("ansible_become") is None:
        return "none"
    path = ("all", "vars", "ansible_become")
    no_template(doc, all_vars["ansible_become"], path)
    flag = all_vars["ansible_become"]
    if isinstance(flag, str) and flag.lower() in ("yes", "true", "no", "false"):
        flag = flag.lower() in ("yes", "true")
    if not isinstance(flag, bool):
        raise doc.error(path, f"must be true or false, got {describe(flag)}")
    if not flag:
        return "none"
    method = all_vars.get("ansible_become_method", "sudo")
    if method != "sudo":
        raise doc.error(
            ("all", "vars", "ansible_become_method"),
            f"{method!r} is not supported; this tool becomes root with sudo only",
        )
    return "sudo"


# --------------------------------------------------------------------------- not in the file


def _known_hosts(doc: Document) -> Path:
    env = os.environ.get(KNOWN_HOSTS_ENV)
    p = Path(env).expanduser().resolve() if env else Path("~/.ssh/known_hosts").expanduser()
    source = f"${KNOWN_HOSTS_ENV}" if env else "the default"
    if not p.is_file():
        raise InventoryError(
            doc.label,
            None,
            "known_hosts",
            f"{p} ({source}) does not exist or is not a file; a one-deploy inventory names no "
            f"known_hosts: set {KNOWN_HOSTS_ENV} to a file with every node's host key",
        )
    return existing_file(doc, p, (), "")


def _cluster_name(doc: Document) -> str:
    stem = doc.path.stem
    try:
        return as_cluster(doc, stem, ())
    except InventoryError:
        raise InventoryError(
            doc.label,
            None,
            "cluster",
            f"the file name {stem!r} names the cluster (reports/<cluster>/) but cannot be a "
            "directory name; rename the file using letters, digits, '.', '_' and '-'",
        ) from None

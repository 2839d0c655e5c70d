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
import getpass
import hashlib
import os
from pathlib import Path
from typing import Any

from oneupgrade.inventory import (
    Document,
    Host,
    Inventory,
    InventoryError,
    KeyPath,
    SshSettings,
    as_address,
    as_cluster,
    as_mapping,
    as_name,
    as_port,
    as_target,
    as_text,
    as_user,
    check_keys,
    check_target_override,
    check_unique,
    describe,
    existing_file,
    key_path,
    private_key_file,
)

KNOWN_HOSTS_ENV = "ONEUPGRADE_KNOWN_HOSTS"
IGNORED_GROUPS = ("bastion", "grafana", "router")
_GROUP_KEYS = ("hosts", "vars", "children")
_ALL_KEYS = ("hosts", "vars", "children")
# Variables whose values are secrets: handed to the redactor, never printed.
_SECRET_VARS = (
    "one_pass",
    "one_token",
    "db_password",
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_become_password",
    "ansible_become_pass",
)
_KEY_VARS = ("ansible_ssh_private_key_file", "ansible_private_key_file")


def is_onedeploy(data: Any) -> bool:
    """An Ansible YAML inventory: `all:` with children/vars/hosts, or groups frontend/node."""
    if not isinstance(data, dict) or "frontends" in data or "cluster" in data:
        return False
    top = data.get("all")
    if isinstance(top, dict) and any(k in top for k in _ALL_KEYS):
        return True
    return "frontend" in data or "node" in data


def _no_template(doc: Document, value: Any, path: KeyPath) -> None:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        raise doc.error(
            path,
            "templated values cannot be used (no Jinja is evaluated here); give the literal value",
        )


class _Scope:
    """Ansible's variable lookup for one host: host vars, group vars, all.vars."""

    def __init__(self, layers: list[tuple[dict[Any, Any], KeyPath]]) -> None:
        self.layers = layers  # most specific first

    def get(self, doc: Document, name: str) -> tuple[Any, KeyPath] | None:
        for values, path in self.layers:
            if name in values and values[name] is not None:
                _no_template(doc, values[name], (*path, name))
                return values[name], (*path, name)
        return None


def build(doc: Document, data: dict[Any, Any], *, target_override: str | None) -> Inventory:
    top_all = data.get("all")
    all_vars: dict[Any, Any] = {}
    groups: dict[str, tuple[Any, KeyPath]] = {}
    if top_all is not None:
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

    def group_name(var: str, default: str) -> str:
        if all_vars.get(var) is None:
            return default
        _no_template(doc, all_vars[var], ("all", "vars", var))
        return as_text(doc, all_vars[var], ("all", "vars", var))

    fe_group = group_name("frontend_group", "frontend")
    node_group = group_name("node_group", "node")
    ignored = {
        group_name("router_group", "router"),
        group_name("grafana_group", "grafana"),
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

    # ---- target, vip, become (all.vars)
    if target_override is not None:
        target = check_target_override(doc, target_override)
    elif all_vars.get("one_version") is None:
        raise doc.error(
            ("all", "vars", "one_version"),
            "missing; set one_version to the target release or pass --target",
            line=doc.line(("all", "vars")),
        )
    else:
        _no_template(doc, all_vars["one_version"], ("all", "vars", "one_version"))
        target = as_target(doc, all_vars["one_version"], ("all", "vars", "one_version"))
    vip: str | None = None
    if all_vars.get("one_vip") is not None:
        _no_template(doc, all_vars["one_vip"], ("all", "vars", "one_vip"))
        vip = as_address(doc, all_vars["one_vip"], ("all", "vars", "one_vip"))
    become = "none"
    if all_vars.get("ansible_become") is not None:
        path = ("all", "vars", "ansible_become")
        _no_template(doc, all_vars["ansible_become"], path)
        flag = all_vars["ansible_become"]
        if isinstance(flag, str) and flag.lower() in ("yes", "true", "no", "false"):
            flag = flag.lower() in ("yes", "true")
        if not isinstance(flag, bool):
            raise doc.error(path, f"must be true or false, got {describe(flag)}")
        if flag:
            method = all_vars.get("ansible_become_method", "sudo")
            if method != "sudo":
                raise doc.error(
                    ("all", "vars", "ansible_become_method"),
                    f"{method!r} is not supported; this tool becomes root with sudo only",
                )
            become = "sudo"

    # ---- hosts
    all_scope: list[tuple[dict[Any, Any], KeyPath]] = [(all_vars, ("all", "vars"))]
    default_user_found = _Scope(all_scope).get(doc, "ansible_user")
    default_user = as_user(doc, *default_user_found) if default_user_found else getpass.getuser()
    default_port_found = _Scope(all_scope).get(doc, "ansible_port")
    default_port = as_port(doc, *default_port_found, digits_ok=True) if default_port_found else 22

    located: list[tuple[Host, KeyPath]] = []
    seen: dict[str, KeyPath] = {}
    key_files: dict[Path, KeyPath] = {}
    secrets: list[str] = []
    _collect_secrets(all_vars, secrets)
    for role, gname in (("frontend", fe_group), ("hypervisor", node_group)):
        if gname not in groups:
            continue
        raw_group, gpath = groups[gname]
        group = as_mapping(doc, raw_group if raw_group is not None else {}, gpath, "give hosts:")
        check_keys(doc, group, gpath, _GROUP_KEYS)
        if group.get("children"):
            raise doc.error(
                (*gpath, "children"),
                f"nested groups are not supported; list the hosts under {gname}.hosts",
            )
        gvars = as_mapping(doc, group.get("vars") or {}, (*gpath, "vars"), "give variables")
        _collect_secrets(gvars, secrets)
        hosts = as_mapping(doc, group.get("hosts") or {}, (*gpath, "hosts"), "give hosts")
        if role == "frontend" and not hosts:
            raise doc.error((*gpath, "hosts"), "no front-ends; list at least one host")
        for raw_name, raw_vars in hosts.items():
            hpath: KeyPath = (*gpath, "hosts", str(raw_name))
            name = as_name(doc, raw_name, hpath, "host name")
            if name in seen:
                raise doc.error(
                    hpath,
                    f"{name!r} is also listed at line {doc.line(seen[name])} "
                    f"({key_path(seen[name])}); a host that is both front-end and hypervisor "
                    "is not supported by this runbook",
                )
            seen[name] = hpath
            hvars = as_mapping(doc, raw_vars or {}, hpath, "give host variables")
            _collect_secrets(hvars, secrets)
            scope = _Scope([(hvars, hpath), (gvars, (*gpath, "vars")), *all_scope])
            found = scope.get(doc, "ansible_host")
            address = as_address(doc, *found) if found else name
            found = scope.get(doc, "ansible_user")
            user = as_user(doc, *found) if found else default_user
            user_given = found is not None
            found = scope.get(doc, "ansible_port")
            port = as_port(doc, *found, digits_ok=True) if found else default_port
            port_given = found is not None
            for var in _KEY_VARS:
                found = scope.get(doc, var)
                if found:
                    text = as_text(doc, *found)
                    # Ansible passes the path to ssh as is: relative to the working directory.
                    key_files.setdefault(Path(text).expanduser().resolve(), found[1])
                    break
            located.append(
                (
                    Host(
                        name=name,
                        address=address,
                        port=port,
                        user=user,
                        role=role,
                        hypervisor="kvm" if role == "hypervisor" else None,
                        port_given=port_given,
                        user_given=user_given,
                    ),
                    hpath,
                )
            )
    check_unique(doc, located, name_key=None, address_key="ansible_host")

    identity: Path | None = None
    if len(key_files) > 1:
        (_, first), (second_file, second) = list(key_files.items())[:2]
        raise doc.error(
            second,
            f"{second_file} differs from the key at line {doc.line(first)} ({key_path(first)}); "
            "this tool uses one SSH key for every node: give them all the same key",
        )
    if key_files:
        ((identity, where),) = key_files.items()
        private_key_file(doc, identity, where)

    known_hosts = _known_hosts(doc)
    cluster = _cluster_name(doc)
    ssh = SshSettings(
        user=default_user,
        identity_file=identity,
        known_hosts=known_hosts,
        port=default_port,
        become=become,
        port_given=default_port_found is not None,
    )
    hosts_only = [h for h, _ in located]
    return Inventory(
        path=doc.path.resolve(),
        sha256=hashlib.sha256(doc.raw).hexdigest(),
        cluster=cluster,
        zone=0,
        target=target,
        vip=vip,
        proxy="auto",
        redact=(),
        ssh=ssh,
        frontends=tuple(h for h in hosts_only if h.role == "frontend"),
        hypervisors=tuple(h for h in hosts_only if h.role == "hypervisor"),
        discover_hypervisors=False,
        format="one-deploy",
        secrets=tuple(dict.fromkeys(secrets)),
    )


def _collect_secrets(values: dict[Any, Any], out: list[str]) -> None:
    for var in _SECRET_VARS:
        value = values.get(var)
        if isinstance(value, str) and value and "{{" not in value and "{%" not in value:
            out.append(value)
            if var == "one_token" and ":" in value:  # user:token, the token alone too
                out.append(value.split(":", 1)[1])


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

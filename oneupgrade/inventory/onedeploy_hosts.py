"""The hosts of a one-deploy inventory's groups, their variables looked up as Ansible does.

Per host: `ansible_host`, `ansible_user`, `ansible_port` and the private key file,
from the host's vars, then its group's vars, then `all.vars`. Password-like values
met on the way are kept for the redactor.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oneupgrade.inventory.document import Document, KeyPath, key_path
from oneupgrade.inventory.fields import (
    as_address,
    as_mapping,
    as_name,
    as_port,
    as_text,
    as_user,
    check_keys,
    private_key_file,
)
from oneupgrade.inventory.model import Host

_GROUP_KEYS = ("hosts", "vars", "children")
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

Layers = list[tuple[dict[Any, Any], KeyPath]]


def no_template(doc: Document, value: Any, path: KeyPath) -> None:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        raise doc.error(
            path,
            "templated values cannot be used (no Jinja is evaluated here); give the literal value",
        )


class Scope:
    """Ansible's variable lookup for one host: host vars, group vars, all.vars."""

    def __init__(self, layers: Layers) -> None:
        self.layers = layers  # most specific first

    def get(self, doc: Document, name: str) -> tuple[Any, KeyPath] | None:
        for values, path in self.layers:
            if name in values and values[name] is not None:
                no_template(doc, values[name], (*path, name))
                return values[name], (*path, name)
        return None


def collect_secrets(values: dict[Any, Any], out: list[str]) -> None:
    for var in _SECRET_VARS:
        value = values.get(var)
        if isinstance(value, str) and value and "{{" not in value and "{%" not in value:
            out.append(value)
            if var == "one_token" and ":" in value:  # user:token, the token alone too
                out.append(value.split(":", 1)[1])


@dataclass(frozen=True)
class Defaults:
    """`all.vars`' ansible_user and ansible_port: the SSH settings, and every host's fallback."""

    user: str
    port: int
    port_given: bool

    @classmethod
    def read(cls, doc: Document, all_vars: dict[Any, Any]) -> Defaults:
        scope = Scope([(all_vars, ("all", "vars"))])
        user_found = scope.get(doc, "ansible_user")
        user = as_user(doc, *user_found) if user_found else getpass.getuser()
        port_found = scope.get(doc, "ansible_port")
        port = as_port(doc, *port_found, digits_ok=True) if port_found else 22
        return cls(user=user, port=port, port_given=port_found is not None)


class HostReader:
    """Reads group after group; collects the nodes, their key files and the secrets."""

    def __init__(self, doc: Document, all_vars: dict[Any, Any], defaults: Defaults) -> None:
        self.doc = doc
        self.defaults = defaults
        self.all_layers: Layers = [(all_vars, ("all", "vars"))]
        self.located: list[tuple[Host, KeyPath]] = []
        self.seen: dict[str, KeyPath] = {}
        self.key_files: dict[Path, KeyPath] = {}
        self.secrets: list[str] = []
        collect_secrets(all_vars, self.secrets)

    def group(self, role: str, gname: str, raw_group: Any, gpath: KeyPath) -> None:
        """The hosts of group `gname`, each a node of `role` ("frontend" | "hypervisor")."""
        doc = self.doc
        group = as_mapping(doc, raw_group if raw_group is not None else {}, gpath, "give hosts:")
        check_keys(doc, group, gpath, _GROUP_KEYS)
        if group.get("children"):
            raise doc.error(
                (*gpath, "children"),
                f"nested groups are not supported; list the hosts under {gname}.hosts",
            )
        gvars = as_mapping(doc, group.get("vars") or {}, (*gpath, "vars"), "give variables")
        collect_secrets(gvars, self.secrets)
        hosts = as_mapping(doc, group.get("hosts") or {}, (*gpath, "hosts"), "give hosts")
        if role == "frontend" and not hosts:
            raise doc.error((*gpath, "hosts"), "no front-ends; list at least one host")
        for raw_name, raw_vars in hosts.items():
            self._host(role, raw_name, raw_vars, gvars, gpath)

    def _host(
        self, role: str, raw_name: Any, raw_vars: Any, gvars: dict[Any, Any], gpath: KeyPath
    ) -> None:
        doc = self.doc
        hpath: KeyPath = (*gpath, "hosts", str(raw_name))
        name = as_name(doc, raw_name, hpath, "host name")
        if name in self.seen:
            raise doc.error(
                hpath,
                f"{name!r} is also listed at line {doc.line(self.seen[name])} "
                f"({key_path(self.seen[name])}); a host that is both front-end and hypervisor "
                "is not supported by this runbook",
            )
        self.seen[name] = hpath
        hvars = as_mapping(doc, raw_vars or {}, hpath, "give host variables")
        collect_secrets(hvars, self.secrets)
        scope = Scope([(hvars, hpath), (gvars, (*gpath, "vars")), *self.all_layers])
        found = scope.get(doc, "ansible_host")
        address = as_address(doc, *found) if found else name
        found = scope.get(doc, "ansible_user")
        user = as_user(doc, *found) if found else self.defaults.user
        user_given = found is not None
        found = scope.get(doc, "ansible_port")
        port = as_port(doc, *found, digits_ok=True) if found else self.defaults.port
        port_given = found is not None
        self._key_file(scope)
        host = Host(
            name=name,
            address=address,
            port=port,
            user=user,
            role=role,
            hypervisor="kvm" if role == "hypervisor" else None,
            port_given=port_given,
            user_given=user_given,
        )
        self.located.append((host, hpath))

    def _key_file(self, scope: Scope) -> None:
        for var in _KEY_VARS:
            found = scope.get(self.doc, var)
            if found:
                text = as_text(self.doc, *found)
                # Ansible passes the path to ssh as is: relative to the working directory.
                self.key_files.setdefault(Path(text).expanduser().resolve(), found[1])
                return

    def identity(self) -> Path | None:
        """The one private key file every host names, if any; checked."""
        doc = self.doc
        if len(self.key_files) > 1:
            (_, first), (second_file, second) = list(self.key_files.items())[:2]
            raise doc.error(
                second,
                f"{second_file} differs from the key at line {doc.line(first)} "
                f"({key_path(first)}); "
                "this tool uses one SSH key for every node: give them all the same key",
            )
        if not self.key_files:
            return None
        ((identity, where),) = self.key_files.items()
        private_key_file(doc, identity, where)
        return identity

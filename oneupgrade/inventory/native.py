"""Read the native inventory format (`inventory/example.yml` documents every key)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from oneupgrade.inventory.document import Document, KeyPath, describe
from oneupgrade.inventory.fields import (
    as_address,
    as_choice,
    as_cluster,
    as_name,
    as_port,
    as_target,
    as_text,
    as_user,
    check_keys,
    check_target_override,
    check_unique,
    require,
)
from oneupgrade.inventory.model import (
    HYPERVISORS,
    PROXIES,
    Host,
    Inventory,
    SshSettings,
)
from oneupgrade.inventory.native_ssh import ssh_settings

_TOP_KEYS = (
    "cluster",
    "zone",
    "target",
    "vip",
    "ssh",
    "proxy",
    "redact",
    "frontends",
    "hypervisors",
)
_FRONTEND_KEYS = ("name", "address", "port", "user")
_HYPERVISOR_KEYS = (*_FRONTEND_KEYS, "hypervisor")


def build(doc: Document, data: dict[Any, Any], *, target_override: str | None) -> Inventory:
    """The inventory a native document describes; `InventoryError` on the first problem."""
    check_keys(doc, data, (), _TOP_KEYS)
    cluster = as_cluster(
        doc,
        require(doc, data, (), "cluster", "add cluster: <name> (names the reports/ directory)"),
        ("cluster",),
    )
    target = _target(doc, data, target_override)
    zone = _zone(doc, data.get("zone"))
    vip = data.get("vip")
    if vip is not None:
        vip = as_address(doc, vip, ("vip",))
    proxy = data.get("proxy")
    proxy = "auto" if proxy is None else as_choice(doc, proxy, ("proxy",), PROXIES)
    redact = _redact_patterns(doc, data.get("redact"), ("redact",))

    ssh = ssh_settings(doc, data)

    located = _frontends(doc, data, ssh)
    discover = _hypervisors(doc, data.get("hypervisors"), ssh, located)
    check_unique(doc, located)
    hosts = [h for h, _ in located]
    return Inventory(
        path=doc.path.resolve(),
        sha256=hashlib.sha256(doc.raw).hexdigest(),
        cluster=cluster,
        zone=zone,
        target=target,
        vip=vip,
        proxy=proxy,
        redact=redact,
        ssh=ssh,
        frontends=tuple(h for h in hosts if h.role == "frontend"),
        hypervisors=tuple(h for h in hosts if h.role == "hypervisor"),
        discover_hypervisors=discover,
        format="native",
    )


def _target(doc: Document, data: dict[Any, Any], target_override: str | None) -> str:
    # Required even when --target overrides it.
    raw_target = require(
        doc, data, (), "target", 'add target: "7.0" (a series) or "7.0.1" (an exact release)'
    )
    if target_override is not None:
        return check_target_override(doc, target_override)
    return as_target(doc, raw_target, ("target",))


def _zone(doc: Document, zone: Any) -> int:
    if zone is None:
        return 0
    if isinstance(zone, bool) or not isinstance(zone, int) or zone < 0:
        raise doc.error(
            ("zone",), f"must be a zone id (an integer >= 0), got {describe(zone)}; e.g. zone: 0"
        )
    return zone


def _redact_patterns(doc: Document, value: Any, path: KeyPath) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise doc.error(
            path,
            f'must be a list of regular expressions, got {describe(value)}; e.g. ["tok-\\\\w+"]',
        )
    out: list[str] = []
    for i, item in enumerate(value):
        text = as_text(doc, item, (*path, i))
        try:
            compiled = re.compile(text)
        except re.error as exc:
            raise doc.error(
                (*path, i), f"invalid regular expression: {exc}; fix the pattern"
            ) from None
        if compiled.search("") is not None:
            raise doc.error(
                (*path, i),
                f"{text!r} matches the empty string, which would redact everything; "
                "make it match at least one character",
            )
        out.append(text)
    return tuple(out)


# --------------------------------------------------------------------------- nodes


def _frontends(doc: Document, data: dict[Any, Any], ssh: SshSettings) -> list[tuple[Host, KeyPath]]:
    frontends_raw = require(
        doc, data, (), "frontends", "list every front-end: frontends: [{name: fe1, address: ...}]"
    )
    if not isinstance(frontends_raw, list) or not frontends_raw:
        raise doc.error(
            ("frontends",),
            f"must be a non-empty list of nodes, got {describe(frontends_raw)}; "
            "list every front-end as {name: ..., address: ...}",
        )
    return [
        (_node(doc, item, ("frontends", i), ssh, "frontend"), ("frontends", i))
        for i, item in enumerate(frontends_raw)
    ]


def _hypervisors(
    doc: Document, hyper_raw: Any, ssh: SshSettings, located: list[tuple[Host, KeyPath]]
) -> bool:
    """Add the listed hypervisors to `located`; True for `hypervisors: discover`."""
    if hyper_raw == "discover":
        return True
    if hyper_raw is None:
        return False
    if not isinstance(hyper_raw, list):
        raise doc.error(
            ("hypervisors",),
            f"must be a list of nodes or the word discover, got {describe(hyper_raw)}; "
            "list them or write hypervisors: discover",
        )
    for i, item in enumerate(hyper_raw):
        located.append(
            (_node(doc, item, ("hypervisors", i), ssh, "hypervisor"), ("hypervisors", i))
        )
    return False


def _node(doc: Document, item: Any, path: KeyPath, ssh: SshSettings, role: str) -> Host:
    if not isinstance(item, dict):
        raise doc.error(
            path,
            f"must be a mapping {{name: ..., address: ...}}, got {describe(item)}; "
            "write each node as {name: fe1, address: 10.0.0.11}",
        )
    if role == "frontend":
        hint = " (hypervisor: belongs to hypervisors entries)" if "hypervisor" in item else ""
        check_keys(doc, item, path, _FRONTEND_KEYS, hint)
    else:
        check_keys(doc, item, path, _HYPERVISOR_KEYS)
    name = as_name(doc, require(doc, item, path, "name", "give every node a name"), (*path, "name"))
    address = as_address(
        doc,
        require(doc, item, path, "address", "give the node's DNS name or IP address"),
        (*path, "address"),
    )
    port = ssh.port if item.get("port") is None else as_port(doc, item["port"], (*path, "port"))
    user = ssh.user if item.get("user") is None else as_user(doc, item["user"], (*path, "user"))
    kind: str | None = None
    if role == "hypervisor":
        raw_kind = item.get("hypervisor")
        kind = (
            "kvm"
            if raw_kind is None
            else as_choice(doc, raw_kind, (*path, "hypervisor"), HYPERVISORS)
        )
    return Host(
        name=name,
        address=address,
        port=port,
        user=user,
        role=role,
        hypervisor=kind,
        port_given=item.get("port") is not None or ssh.port_given,
    )

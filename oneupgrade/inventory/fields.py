"""The checks of single values both inventory readers share (native and one-deploy).

Each takes the document, the value and its key path, and returns the value in the
type the model wants, or raises the document's one-line `InventoryError` that says
what is wrong and what to do.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from oneupgrade import releases
from oneupgrade.inventory.document import (
    Document,
    InventoryError,
    KeyPath,
    Tagged,
    describe,
    key_path,
)
from oneupgrade.inventory.model import Host

# A node name is used in test ids, report rows and file names.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Host names, IPv4 and IPv6 addresses; never a leading '-' (it would be read as an ssh option).
ADDRESS_RE = re.compile(r"^[A-Za-z0-9_\[][A-Za-z0-9_.:%\[\]-]*$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$")
VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")
MAX_CLUSTER_NAME = 64


def check_keys(
    doc: Document, mapping: Mapping[Any, Any], path: KeyPath, known: Iterable[str], hint: str = ""
) -> None:
    """Every key known (with a "did you mean"); call before reading the values."""
    known = tuple(known)
    for key in mapping:
        if isinstance(key, str) and key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        raise doc.error((*path, str(key)), f"unknown key{hint}; {fix}")


def require(doc: Document, mapping: Mapping[str, Any], path: KeyPath, key: str, fix: str) -> Any:
    value = mapping.get(key)
    if key not in mapping:
        raise doc.error((*path, key), f"missing; {fix}", line=doc.line(path))
    if value is None or value == "":
        raise doc.error((*path, key), f"is empty; {fix}")
    return value


def as_mapping(doc: Document, value: Any, path: KeyPath, fix: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise doc.error(path, f"must be a mapping of keys, got {describe(value)}; {fix}")
    return value


def as_text(doc: Document, value: Any, path: KeyPath, *, numbers_as_written: bool = False) -> str:
    """A string; a number only where its written text is meant (`target: 7.0`)."""
    if isinstance(value, Tagged):
        raise doc.error(
            path, f"{value.tag} values cannot be used here; give the literal value in clear"
        )
    if isinstance(value, str):
        return value
    if numbers_as_written and isinstance(value, (int, float)) and not isinstance(value, bool):
        text = doc.scalar_text(path)
        if text is not None:
            return text
    raise doc.error(path, f"must be a string, got {describe(value)}; quote it")


def as_name(doc: Document, value: Any, path: KeyPath, what: str = "name") -> str:
    text = as_text(doc, value, path, numbers_as_written=True)
    if not NAME_RE.match(text):
        raise doc.error(
            path,
            f"invalid {what} {text!r}; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        )
    return text


def as_address(doc: Document, value: Any, path: KeyPath) -> str:
    text = as_text(doc, value, path)
    if not ADDRESS_RE.match(text):
        raise doc.error(
            path, f"{text!r} is not a host name or IP address; give the node's DNS name or IP"
        )
    return text


def as_user(doc: Document, value: Any, path: KeyPath) -> str:
    text = as_text(doc, value, path, numbers_as_written=True)
    if not USER_RE.match(text):
        raise doc.error(path, f"{text!r} is not a valid login name; give the SSH user name")
    return text


def as_port(doc: Document, value: Any, path: KeyPath, *, digits_ok: bool = False) -> int:
    if digits_ok and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise doc.error(
            path, f"must be a port number 1..65535, got {describe(value)}; give the SSH port"
        )
    return value


def as_seconds(doc: Document, value: Any, path: KeyPath) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise doc.error(
            path, f"must be a positive number of seconds, got {describe(value)}; e.g. 10"
        )
    return float(value)


def as_choice(doc: Document, value: Any, path: KeyPath, choices: tuple[str, ...]) -> str:
    text = value if isinstance(value, str) else None
    if text not in choices:
        shown = repr(text) if text is not None else describe(value)
        raise doc.error(path, f"{shown} is not one of {', '.join(choices)}; use one of them")
    assert text is not None
    return text


def as_target(doc: Document, value: Any, path: KeyPath, *, override: bool = False) -> str:
    """A known series ("7.0") or exact release ("7.0.1")."""
    if override:
        text = str(value)
    else:
        text = as_text(doc, value, path, numbers_as_written=True)
    text = text.strip()
    where = "the --target" if override else "target"
    if not VERSION_RE.match(text):
        raise doc.error(
            path,
            f'{text!r} is not a version; give {where} as a series like "7.0" '
            'or a release like "7.0.1"',
        )
    if not releases.is_known(text):
        raise doc.error(
            path,
            f"{text!r} is not a release this tool knows; known targets: "
            f"{', '.join(releases.known_targets())}",
        )
    return text


def check_target_override(doc: Document, target_override: str) -> str:
    try:
        return as_target(doc, target_override, ("target",), override=True)
    except InventoryError as exc:
        raise InventoryError(doc.label, None, "--target", exc.problem) from None


def as_cluster(doc: Document, value: Any, path: KeyPath) -> str:
    text = as_text(doc, value, path, numbers_as_written=True)
    if not NAME_RE.match(text) or len(text) > MAX_CLUSTER_NAME or set(text) == {"."}:
        raise doc.error(
            path,
            f"{text!r} cannot be used as a directory name (reports/<cluster>/); use up to "
            f"{MAX_CLUSTER_NAME} letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        )
    return text


def file_path(doc: Document, value: Any, path: KeyPath, *, base: Path | None = None) -> Path:
    """A path as written: `~` expanded, relative to `base` (default: the inventory's dir)."""
    text = as_text(doc, value, path)
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = (base if base is not None else doc.path.resolve().parent) / p
    return p.resolve()


def existing_file(doc: Document, p: Path, path: KeyPath, fix: str) -> Path:
    if not p.exists():
        raise doc.error(path, f"{p} does not exist; {fix}")
    if not p.is_file():
        raise doc.error(path, f"{p} is not a file; {fix}")
    return p


def private_key_file(doc: Document, p: Path, path: KeyPath) -> Path:
    existing_file(
        doc,
        p,
        path,
        "give the path of the SSH private key (relative paths start at the inventory's directory)",
    )
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        raise doc.error(
            path,
            f"{p} is readable by others (mode {mode:04o}); chmod 600 {p}",
        )
    return p


def check_unique(
    doc: Document,
    hosts: Iterable[tuple[Host, KeyPath]],
    *,
    name_key: str | None = "name",
    address_key: str = "address",
) -> None:
    """Names unique across front-ends and hypervisors; address+port unique."""
    names: dict[str, KeyPath] = {}
    addresses: dict[tuple[str, int], KeyPath] = {}
    for host, path in hosts:
        if host.name in names:
            other = names[host.name]
            raise doc.error(
                (*path, name_key) if name_key else path,
                f"duplicate name {host.name!r} (also at line {doc.line(other)}); "
                "give every node a unique name",
            )
        names[host.name] = path
        where = (host.address.lower(), host.port)
        if where in addresses:
            other = addresses[where]
            raise doc.error(
                (*path, address_key),
                f"duplicate address {host.address}:{host.port} (also {key_path(other)} at line "
                f"{doc.line(other)}); every node must be a distinct host",
            )
        addresses[where] = path

"""The inventory: which cluster, which nodes, how to reach them, what to upgrade to.

Two formats are read, and both become the same `Inventory`:

- the native format (`inventory/example.yml` documents every key);
- a one-deploy (OpenNebula's Ansible) inventory, as is (`oneupgrade.inventory.onedeploy`).

Loading never opens a connection. It reads one file, checks everything that can be
checked on this machine (names, addresses, ports, the target release, that the key
and known_hosts files exist and the key is private) and fails on the first problem
with ONE line that names the file, the line, the key path, what is wrong and what
to do::

    prod.yml:7: frontends[2].name: duplicate name 'fe1' (also at line 5); give every node a
    unique name

Usage::

    inv = load_inventory(Path("inventory/prod.yml"))
    for host in inv.nodes:
        print(host.name, host.address, host.port, host.role)
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import math
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oneupgrade import releases
from oneupgrade.errors import RunbookError

__all__ = [
    "BECOME_METHODS",
    "PROXIES",
    "Host",
    "Inventory",
    "InventoryError",
    "SshSettings",
    "load_inventory",
]

PROXIES = ("nginx", "apache", "none", "auto")
BECOME_METHODS = ("none", "sudo")
HYPERVISORS = ("kvm", "lxc")

# A node name is used in test ids, report rows and file names.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Host names, IPv4 and IPv6 addresses; never a leading '-' (it would be read as an ssh option).
ADDRESS_RE = re.compile(r"^[A-Za-z0-9_\[][A-Za-z0-9_.:%\[\]-]*$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")
MAX_CLUSTER_NAME = 64

KeyPath = tuple[str | int, ...]


class InventoryError(RunbookError):
    """An inventory that cannot be used. `str()` is one line: file:line: key: problem; fix."""

    def __init__(self, file: str, line: int | None, key: str | None, problem: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        text = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        # One line, whatever a value contained.
        super().__init__(" ".join(text.split("\n")))
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Host:
    """One node: a front-end or a hypervisor."""

    name: str
    address: str
    port: int
    user: str
    role: str  # "frontend" | "hypervisor"
    hypervisor: str | None = None  # "kvm" | "lxc" for hypervisors, None for front-ends
    # Written in the inventory (else the ssh config's Port/User may apply: transport.sshconfig).
    port_given: bool = field(default=True, compare=False)
    user_given: bool = field(default=True, compare=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass(frozen=True)
class SshSettings:
    """How every node is reached. Paths are absolute; the files existed when loaded."""

    user: str
    identity_file: Path | None
    known_hosts: Path
    port: int = 22
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    config: Path | None = None
    become: str = "none"  # "none" | "sudo"
    become_password_env: str | None = None  # the NAME of an environment variable
    port_given: bool = field(default=True, compare=False)  # `port:` written in ssh:


@dataclass(frozen=True)
class Inventory:
    path: Path  # resolved
    sha256: str  # of the file's bytes: the report's "inventory digest"
    cluster: str
    zone: int
    target: str  # a series ("7.0") or an exact release ("7.0.1"), known to `releases`
    vip: str | None
    proxy: str  # nginx | apache | none | auto
    redact: tuple[str, ...]  # regular expressions
    ssh: SshSettings
    frontends: tuple[Host, ...]
    hypervisors: tuple[Host, ...]
    discover_hypervisors: bool = False
    format: str = "native"  # "native" | "one-deploy"
    # Secret values found in the file (a one-deploy inventory may hold one_pass,
    # db_password...): never printed, only handed to the redactor.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def nodes(self) -> tuple[Host, ...]:
        """Front-ends first, then hypervisors."""
        return self.frontends + self.hypervisors

    def node(self, name: str) -> Host:
        for host in self.nodes:
            if host.name == name:
                return host
        raise KeyError(f"no node named {name!r} in {self.path}")


def load_inventory(path: Path, *, target_override: str | None = None) -> Inventory:
    """Read and check an inventory (native or one-deploy); raise `InventoryError`."""
    path = Path(path)
    doc, data = read_yaml(path)
    # onedeploy builds on this module's checks, so it is imported here, not at the top.
    from oneupgrade.inventory import onedeploy  # noqa: PLC0415

    if onedeploy.is_onedeploy(data):
        return onedeploy.build(doc, data, target_override=target_override)
    return _build_native(doc, data, target_override=target_override)


# --------------------------------------------------------------------------- YAML


class _Tagged:
    """A value with a local tag (`!vault |...`): readable, never usable."""

    def __init__(self, tag: str, value: object) -> None:
        self.tag = tag
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    if suffix == "unsafe":  # Ansible's "do not template" marker: the value itself
        return value
    return _Tagged("!" + suffix, value)


_Loader.add_multi_constructor("!", _construct_tagged)


class Document:
    """A parsed YAML file and where each key is: errors name the line and key path."""

    def __init__(self, path: Path, raw: bytes, root: yaml.Node | None) -> None:
        self.path = path
        self.label = str(path)
        self.raw = raw
        self.lines: dict[KeyPath, int] = {}
        self.nodes: dict[KeyPath, yaml.Node] = {}
        self._seen: set[int] = set()
        if root is not None:
            self._index(root, ())

    def _index(self, node: yaml.Node, path: KeyPath) -> None:
        # Each node once: aliases share nodes (and could make the walk exponential).
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        self.nodes[path] = node
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in first:
                    raise self.error(
                        (*path, key),
                        f"duplicate key {key!r} (also at line {first[key]}); remove one of them",
                        line=line,
                    )
                first[key] = line
                self.lines[(*path, key)] = line
                self._index(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                self._index(item, (*path, i))

    def line(self, path: KeyPath) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def scalar_text(self, path: KeyPath) -> str | None:
        """The text as written (`6.10`, which YAML reads as the float 6.1)."""
        node = self.nodes.get(path)
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        return None

    def error(self, path: KeyPath, problem: str, *, line: int | None = None) -> InventoryError:
        return InventoryError(
            self.label, line if line is not None else self.line(path), key_path(path), problem
        )


def key_path(path: KeyPath) -> str:
    """`("frontends", 1, "address")` -> `frontends[1].address`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def read_yaml(path: Path) -> tuple[Document, Any]:
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(
            label, None, None, "no such file; check the --inventory path"
        ) from None
    except IsADirectoryError:
        raise InventoryError(label, None, None, "is a directory; give the inventory file") from None
    except OSError as exc:
        raise InventoryError(label, None, None, f"cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(
            label, None, None, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        # Index before constructing: construction flattens merge keys in place.
        doc = Document(path, raw, root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = f" (column {mark.column + 1})" if mark else ""
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise InventoryError(
            label, line, None, f"YAML syntax error: {what}{col}; fix the YAML at this line"
        ) from None
    except yaml.YAMLError as exc:
        raise InventoryError(label, None, None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        raise InventoryError(
            label, 1, None, "the file is empty; see inventory/example.yml for what goes in it"
        )
    if not isinstance(data, dict):
        raise InventoryError(
            label,
            1,
            None,
            f"the top level is {describe(data)}, not a mapping of keys; "
            "see inventory/example.yml for the layout",
        )
    return doc, data


# --------------------------------------------------------------------------- checks


def describe(value: object) -> str:
    """What a YAML value is, for messages."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, _Tagged):
        return f"a {value.tag} value"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


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
    if isinstance(value, _Tagged):
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


# --------------------------------------------------------------------------- native

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
_SSH_KEYS = (
    "user",
    "identity_file",
    "known_hosts",
    "port",
    "connect_timeout",
    "command_timeout",
    "config",
    "become",
    "become_password_env",
)
_FRONTEND_KEYS = ("name", "address", "port", "user")
_HYPERVISOR_KEYS = (*_FRONTEND_KEYS, "hypervisor")


def _build_native(doc: Document, data: dict[Any, Any], *, target_override: str | None) -> Inventory:
    check_keys(doc, data, (), _TOP_KEYS)
    cluster = as_cluster(
        doc,
        require(doc, data, (), "cluster", "add cluster: <name> (names the reports/ directory)"),
        ("cluster",),
    )
    raw_target = require(
        doc, data, (), "target", 'add target: "7.0" (a series) or "7.0.1" (an exact release)'
    )
    target = (
        check_target_override(doc, target_override)
        if target_override is not None
        else as_target(doc, raw_target, ("target",))
    )
    zone = data.get("zone")
    if zone is None:
        zone = 0
    elif isinstance(zone, bool) or not isinstance(zone, int) or zone < 0:
        raise doc.error(
            ("zone",), f"must be a zone id (an integer >= 0), got {describe(zone)}; e.g. zone: 0"
        )
    vip = data.get("vip")
    if vip is not None:
        vip = as_address(doc, vip, ("vip",))
    proxy = data.get("proxy")
    proxy = "auto" if proxy is None else as_choice(doc, proxy, ("proxy",), PROXIES)
    redact = _redact_patterns(doc, data.get("redact"), ("redact",))

    ssh_raw = as_mapping(
        doc,
        require(doc, data, (), "ssh", "add an ssh: section with user and known_hosts"),
        ("ssh",),
        "give user, known_hosts and the other ssh settings under it",
    )
    ssh = _ssh_settings(doc, ssh_raw, ("ssh",))

    frontends_raw = require(
        doc, data, (), "frontends", "list every front-end: frontends: [{name: fe1, address: ...}]"
    )
    if not isinstance(frontends_raw, list) or not frontends_raw:
        raise doc.error(
            ("frontends",),
            f"must be a non-empty list of nodes, got {describe(frontends_raw)}; "
            "list every front-end as {name: ..., address: ...}",
        )
    located: list[tuple[Host, KeyPath]] = []
    for i, item in enumerate(frontends_raw):
        located.append((_node(doc, item, ("frontends", i), ssh, "frontend"), ("frontends", i)))

    hyper_raw = data.get("hypervisors")
    discover = False
    if hyper_raw == "discover":
        discover = True
    elif hyper_raw is None:
        pass
    elif isinstance(hyper_raw, list):
        for i, item in enumerate(hyper_raw):
            located.append(
                (_node(doc, item, ("hypervisors", i), ssh, "hypervisor"), ("hypervisors", i))
            )
    else:
        raise doc.error(
            ("hypervisors",),
            f"must be a list of nodes or the word discover, got {describe(hyper_raw)}; "
            "list them or write hypervisors: discover",
        )
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


def _ssh_settings(doc: Document, raw: dict[Any, Any], path: KeyPath) -> SshSettings:
    check_keys(doc, raw, path, _SSH_KEYS)
    user = as_user(
        doc, require(doc, raw, path, "user", "add user: <SSH login name>"), (*path, "user")
    )
    identity: Path | None = None
    if raw.get("identity_file") is not None:
        p = file_path(doc, raw["identity_file"], (*path, "identity_file"))
        identity = private_key_file(doc, p, (*path, "identity_file"))
    known_raw = require(
        doc,
        raw,
        path,
        "known_hosts",
        "add known_hosts: <file with every node's host key>; host keys are pinned, "
        "never trusted on first use",
    )
    known_hosts = existing_file(
        doc,
        file_path(doc, known_raw, (*path, "known_hosts")),
        (*path, "known_hosts"),
        "create it with every node's host key (ssh-keyscan, checked out of band)",
    )
    port = 22 if raw.get("port") is None else as_port(doc, raw["port"], (*path, "port"))
    connect_timeout = (
        10.0
        if raw.get("connect_timeout") is None
        else as_seconds(doc, raw["connect_timeout"], (*path, "connect_timeout"))
    )
    command_timeout = (
        600.0
        if raw.get("command_timeout") is None
        else as_seconds(doc, raw["command_timeout"], (*path, "command_timeout"))
    )
    config: Path | None = None
    if raw.get("config") is not None:
        config = existing_file(
            doc,
            file_path(doc, raw["config"], (*path, "config")),
            (*path, "config"),
            "give an existing OpenSSH client config file or remove the key",
        )
    become = raw.get("become")
    become = "none" if become is None else as_choice(doc, become, (*path, "become"), BECOME_METHODS)
    password_env = raw.get("become_password_env")
    if password_env is not None:
        # Never echo this value: someone may have put the password itself here.
        if not isinstance(password_env, str) or not ENV_NAME_RE.match(password_env):
            raise doc.error(
                (*path, "become_password_env"),
                "is not an environment variable name; give the NAME of the variable that "
                "holds the sudo password (never the password itself)",
            )
        if become == "none":
            raise doc.error(
                (*path, "become_password_env"),
                "is set but become is none; set become: sudo or remove it",
            )
    return SshSettings(
        user=user,
        identity_file=identity,
        known_hosts=known_hosts,
        port=port,
        connect_timeout=connect_timeout,
        command_timeout=command_timeout,
        config=config,
        become=become,
        become_password_env=password_env,
        port_given=raw.get("port") is not None,
    )


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


def hypervisor_patterns(inventory: Inventory, text: str) -> tuple[str, ...]:
    """`--hypervisors 'kvm1,kvm2*'` as patterns; each must match a hypervisor (ValueError)."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if not patterns:
        raise ValueError("--hypervisors is empty; give names or shell patterns, e.g. 'kvm1,kvm2*'")
    if inventory.discover_hypervisors:
        return patterns  # the names are known only once the front-ends answer
    names = [h.name for h in inventory.hypervisors]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        shown = ", ".join(repr(p) for p in unmatched)
        raise ValueError(
            f"--hypervisors: {shown} matches no hypervisor of {inventory.path.name} "
            f"(it has {', '.join(names) or 'none'}); check the names"
        )
    return patterns

"""The `ssh:` section of the native inventory format: how every node is reached."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from oneupgrade.inventory.document import Document, KeyPath
from oneupgrade.inventory.fields import (
    as_choice,
    as_mapping,
    as_port,
    as_seconds,
    as_user,
    check_keys,
    existing_file,
    file_path,
    private_key_file,
    require,
)
from oneupgrade.inventory.model import BECOME_METHODS, SshSettings

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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


def ssh_settings(doc: Document, data: dict[Any, Any]) -> SshSettings:
    """The `ssh:` section of a native document (`data` is the whole document)."""
    raw = as_mapping(
        doc,
        require(doc, data, (), "ssh", "add an ssh: section with user and known_hosts"),
        ("ssh",),
        "give user, known_hosts and the other ssh settings under it",
    )
    return _settings(doc, raw, ("ssh",))


def _settings(doc: Document, raw: dict[Any, Any], path: KeyPath) -> SshSettings:
    check_keys(doc, raw, path, _SSH_KEYS)
    user = as_user(
        doc, require(doc, raw, path, "user", "add user: <SSH login name>"), (*path, "user")
    )
    identity = _identity_file(doc, raw, path)
    known_hosts = _known_hosts(doc, raw, path)
    port = 22 if raw.get("port") is None else as_port(doc, raw["port"], (*path, "port"))
    connect_timeout = _seconds(doc, raw, (*path, "connect_timeout"), 10.0)
    command_timeout = _seconds(doc, raw, (*path, "command_timeout"), 600.0)
    config = _config(doc, raw, path)
    become = raw.get("become")
    become = "none" if become is None else as_choice(doc, become, (*path, "become"), BECOME_METHODS)
    password_env = _become_password_env(doc, raw, path, become)
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


def _identity_file(doc: Document, raw: dict[Any, Any], path: KeyPath) -> Path | None:
    if raw.get("identity_file") is None:
        return None
    p = file_path(doc, raw["identity_file"], (*path, "identity_file"))
    return private_key_file(doc, p, (*path, "identity_file"))


def _known_hosts(doc: Document, raw: dict[Any, Any], path: KeyPath) -> Path:
    known_raw = require(
        doc,
        raw,
        path,
        "known_hosts",
        "add known_hosts: <file with every node's host key>; host keys are pinned, "
        "never trusted on first use",
    )
    return existing_file(
        doc,
        file_path(doc, known_raw, (*path, "known_hosts")),
        (*path, "known_hosts"),
        "create it with every node's host key (ssh-keyscan, checked out of band)",
    )


def _seconds(doc: Document, raw: dict[Any, Any], path: KeyPath, default: float) -> float:
    """`ssh.<path[-1]>` in seconds, `default` when not given."""
    value = raw.get(path[-1])
    return default if value is None else as_seconds(doc, value, path)


def _config(doc: Document, raw: dict[Any, Any], path: KeyPath) -> Path | None:
    if raw.get("config") is None:
        return None
    return existing_file(
        doc,
        file_path(doc, raw["config"], (*path, "config")),
        (*path, "config"),
        "give an existing OpenSSH client config file or remove the key",
    )


def _become_password_env(
    doc: Document, raw: dict[Any, Any], path: KeyPath, become: str
) -> str | None:
    password_env = raw.get("become_password_env")
    if password_env is None:
        return None
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
    return password_env

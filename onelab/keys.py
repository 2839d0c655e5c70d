"""Ed25519 keys in OpenSSH format, generated in-process (no ssh-keygen fork)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def new_ed25519(comment: str) -> tuple[bytes, str]:
    """(private key in OpenSSH PEM format, 'ssh-ed25519 BASE64 comment' public line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode()} {comment}"


def write_private(path: Path, private: bytes) -> None:
    """Write a private key with mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    os.chmod(path, 0o600)


def public_blob(public_line: str) -> str:
    """'ssh-ed25519 BASE64 [comment]' -> 'ssh-ed25519 BASE64'."""
    return " ".join(public_line.split()[:2])

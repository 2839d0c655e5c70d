"""Cluster state (shared/state.json) and node-local state, under one flock."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from . import paths

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

STATE = "state.json"
LOCK = "lock"
SHARED_FILE_MODE = 0o666
SHARED_DIR_MODE = 0o777


def _dir(shared: Path | None) -> Path:
    return shared if shared is not None else paths.shared_dir()


@contextlib.contextmanager
def _flock(shared: Path, exclusive: bool) -> Iterator[None]:
    lock = shared / LOCK
    with open(lock, "r+" if exclusive else "r") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load(shared: Path | None = None) -> dict[str, Any]:
    """A consistent read-only snapshot (writes nothing)."""
    d = _dir(shared)
    with _flock(d, exclusive=False):
        data = paths.read_json(d / STATE, {})
    assert isinstance(data, dict)
    return data


def save(d: Path, data: dict[str, Any]) -> None:
    paths.write_json(d / STATE, data, SHARED_FILE_MODE)


@contextlib.contextmanager
def mutate(shared: Path | None = None) -> Iterator[dict[str, Any]]:
    """Read-modify-write the cluster state under the exclusive lock.

    The state is saved only if it changed. Node-local state changes made inside
    the block are serialized by the same lock.
    """
    d = _dir(shared)
    with _flock(d, exclusive=True):
        data = paths.read_json(d / STATE, {})
        before = repr(data)
        yield data
        if repr(data) != before:
            save(d, data)


def init_shared(shared: Path, data: dict[str, Any]) -> None:
    shared.mkdir(parents=True, exist_ok=True)
    os.chmod(shared, SHARED_DIR_MODE)
    lock = shared / LOCK
    lock.touch()
    os.chmod(lock, SHARED_FILE_MODE)
    with _flock(shared, exclusive=True):
        save(shared, data)


# ------------------------------------------------------------------ node-local


def local_path(name: str) -> Path:
    return paths.local_dir() / f"{name}.json"


def load_local(name: str, default: Any = None) -> Any:
    return paths.read_json(local_path(name), default)


def save_local(name: str, data: Any) -> None:
    path = local_path(name)
    if paths.read_json(path, None) != data:
        paths.write_json(path, data, 0o644)

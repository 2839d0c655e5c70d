"""Cluster state (shared/state.json), the fault and latency rules (shared/rules.json)
and node-local state, under one flock.

The rules are a file of their own because every simulated command reads them, and
most need nothing else of the cluster: the cluster state grows with its hosts
(~180 KB at 200), the rules do not."""

from __future__ import annotations

import fcntl
import os

from . import paths

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, TextIO

    from .paths import StrPath

STATE = "state.json"
RULES = "rules.json"
LOCK = "lock"
SHARED_FILE_MODE = 0o666
SHARED_DIR_MODE = 0o777


def _dir(shared: StrPath | None) -> StrPath:
    return shared if shared is not None else paths.shared_dir()


class _flock:
    """The cluster lock, shared or exclusive (a class, not contextlib: every simulated
    command takes it, and contextlib costs an import)."""

    def __init__(self, shared: StrPath, exclusive: bool) -> None:
        self.lock = os.path.join(shared, LOCK)
        self.exclusive = exclusive
        self.fh: TextIO | None = None

    def __enter__(self) -> None:
        fh = open(self.lock, "r+" if self.exclusive else "r")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)
        except BaseException:
            fh.close()
            raise
        self.fh = fh

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fh, self.fh = self.fh, None
        if fh is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_UN)
            finally:
                fh.close()


def load(shared: StrPath | None = None, name: str = STATE) -> dict[str, Any]:
    """A consistent read-only snapshot of STATE or RULES (writes nothing)."""
    d = _dir(shared)
    with _flock(d, exclusive=False):
        data = paths.read_json(os.path.join(d, name), {})
    assert isinstance(data, dict)
    return data


def save(d: StrPath, data: dict[str, Any], name: str = STATE) -> None:
    # Compact: written under the exclusive lock, and json's C encoder serves no indent
    # (with 50 hosts the indented form took ~4 ms of the lock holder's CPU, this ~1.5).
    paths.write_json(os.path.join(d, name), data, SHARED_FILE_MODE, compact=True)


class mutate:
    """Read-modify-write the cluster state (or the RULES) under the exclusive lock.

    The state is saved only if it changed (and the block raised nothing). Node-local
    state changes made inside the block are serialized by the same lock.
    """

    def __init__(self, shared: StrPath | None = None, name: str = STATE) -> None:
        self.dir = _dir(shared)
        self.name = name
        self.lock = _flock(self.dir, exclusive=True)
        self.data: dict[str, Any] = {}
        self.before = ""

    def __enter__(self) -> dict[str, Any]:
        self.lock.__enter__()
        try:
            self.data = paths.read_json(os.path.join(self.dir, self.name), {})
            self.before = repr(self.data)
        except BaseException:
            self.lock.__exit__(None, None, None)
            raise
        return self.data

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None and repr(self.data) != self.before:
                save(self.dir, self.data, self.name)
        finally:
            self.lock.__exit__(exc_type, exc, tb)


def init_shared(shared: StrPath, data: dict[str, Any], rules: dict[str, Any]) -> None:
    os.makedirs(shared, exist_ok=True)
    os.chmod(shared, SHARED_DIR_MODE)
    lock = os.path.join(shared, LOCK)
    open(lock, "a").close()  # touch
    os.chmod(lock, SHARED_FILE_MODE)
    with _flock(shared, exclusive=True):
        save(shared, data)
        save(shared, rules, RULES)


# ------------------------------------------------------------------ node-local


def local_path(name: str) -> str:
    return os.path.join(paths.local_dir(), f"{name}.json")


def load_local(name: str, default: Any = None) -> Any:
    return paths.read_json(local_path(name), default)


def save_local(name: str, data: Any) -> None:
    path = local_path(name)
    if paths.read_json(path, None) != data:
        paths.write_json(path, data, 0o644)

"""Each unit's state, kept in STATE/<unit>.json, its lock, and what systemctl reports of it."""

from __future__ import annotations

import fcntl
import json
import os
import time

from .paths import STATE, P
from .procfs import alive
from .units import Unit

TYPE_CHECKING = False  # typing costs milliseconds on every call
if TYPE_CHECKING:
    from typing import Any


def load_state(name: str) -> dict[str, Any]:
    try:
        with open(P(f"{STATE}/{name}.json")) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except (OSError, ValueError):
        return {"state": "inactive"}


def save_state(name: str, **state: Any) -> None:
    os.makedirs(P(STATE), exist_ok=True)
    state.setdefault("since", time.time())
    tmp = P(f"{STATE}/.{name}.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, P(f"{STATE}/{name}.json"))  # atomic: a reader sees old or new


def lock(name: str, exclusive: bool = True) -> int:
    """A lock per unit: a long start of one unit does not block another unit's start."""
    os.makedirs(P(STATE), exist_ok=True)
    fd = os.open(P(f"{STATE}/{name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return fd


def busy(name: str) -> bool:
    """Whether some systemctl is starting or stopping the unit right now."""
    try:
        fd = os.open(P(f"{STATE}/{name}.lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def effective(name: str, st: dict[str, Any] | None = None) -> str:
    st = st or load_state(name)
    s = str(st.get("state", "inactive"))
    if s == "active" and st.get("pid") and not alive(st["pid"], st.get("ticks")):
        return "failed"  # the main process died and nobody stopped it
    if s in ("activating", "deactivating") and not busy(name):
        return "failed"  # the systemctl doing it was killed
    return s


def sub_state(name: str, st: dict[str, Any]) -> str:
    s = effective(name, st)
    if s == "active":
        return str(st.get("sub", "running"))
    return {"failed": "failed", "activating": "start", "deactivating": "stop"}.get(s, "dead")


def enabled(u: Unit) -> str:
    if u.masked:
        return "masked"
    base = P("/etc/systemd/system")
    dirs = os.listdir(base) if os.path.isdir(base) else []
    wants = [d for d in dirs if d.endswith((".wants", ".requires"))]
    if any(os.path.lexists(f"{base}/{d}/{u.name}") for d in wants):
        return "enabled"
    return "disabled" if "Install" in u.sections else "static"


def loaded() -> list[str]:
    try:
        names = [f[:-5] for f in os.listdir(P(STATE)) if f.endswith(".json")]
    except OSError:
        return []
    return sorted(n for n in names if effective(n) != "inactive")

"""oned.log since the last start, read as the upgrade guide's "Testing" section asks:
errors, and every configured driver loaded.

Lines look like `Wed Dec  2 03:30:40 2026 [Z0][ONE][I]: Starting OpenNebula 7.0.2 ()`.
Each driver manager logs `Loading driver: NAME`, then `\tDriver loaded: NAME` or an
error (`File not exists: ...`; include/DriverManager.h); the Virtual Machine Manager
says `\tLoading driver: kvm (KVM)` and `\tDriver kvm loaded.`. Left out: request
failures (`[ReM][E]`: a client's refused call, not oned's health) and the election
every raft server starts with when it hears no leader after its start (`[RRM][E]:
Failed to get heartbeat from leader. Starting election proccess`; step 8 judges raft
from `onezone show`).
"""

from __future__ import annotations

import re

ONED_LOG = "/var/log/one/oned.log"
TAIL_LINES = 20000  # enough for a start and the minutes after it

_START = re.compile(r"\[ONE\]\[I\]: Starting OpenNebula")
_LEVEL = re.compile(r"\[Z\d+\]\[(?P<module>\w+)\]\[(?P<level>[A-Z])\]: (?P<text>.*)$")
_LOADING = re.compile(r"Loading driver: (?P<name>\S+)")
_LOADED = re.compile(r"Driver loaded: (?P<name>\S+)|Driver (?P<vmm>\S+) loaded\.")
_EXPECTED = (("ReM", ""), ("RRM", "Failed to get heartbeat from leader. Starting election"))


def _expected(module: str, text: str) -> bool:
    return any(module == m and text.startswith(t) for m, t in _EXPECTED)


def since_last_start(text: str) -> list[str]:
    """The lines from the last start on ([] when the text holds no start)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _START.search(line)]
    return lines[starts[-1] :] if starts else []


def problems(lines: list[str]) -> list[str]:
    """Errors since the start, and drivers whose loading did not end in "loaded"."""
    found: list[str] = []
    loading: list[str] = []
    for line in lines:
        entry = _LEVEL.search(line)
        if entry is None:
            continue
        if (name := _LOADING.search(entry["text"])) is not None:
            loading.append(name["name"])
        elif (loaded := _LOADED.search(entry["text"])) is not None:
            done = loaded["name"] or loaded["vmm"]
            if done in loading:
                loading.remove(done)
        if entry["level"] == "E" and not _expected(entry["module"], entry["text"]):
            found.append(line.strip())
    found += [f"driver {name}: loading began but it never reported loaded" for name in loading]
    return found

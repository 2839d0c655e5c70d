"""Injected faults and latencies: storing them, matching commands, acting."""

from __future__ import annotations

import os
import sys
import time

from . import globs, raft, state

# Imported where used (contextlib, ctypes, signal): every simulated command imports
# this module and most never need them.
TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

SIM_TOOLS = {
    "onezone", "onehost", "onevm", "onevnet", "onedb", "onecfg", "systemctl",
    "apt-get", "apt-cache", "dpkg-query", "dpkg", "yum", "dnf", "rpm",
}  # fmt: skip
PSEUDO = ("download", "install")
ACTIONS = ("exit", "hang", "drop", "corrupt")


# --------------------------------------------------------------------- the API


def add_fault(
    shared: Path,
    node: str,
    pattern: str,
    *,
    times: int | None,
    action: str,
    exit_code: int = 1,
) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown fault action {action!r}")
    if not pattern.split():
        raise ValueError("empty fault pattern")
    rule = {"pattern": pattern, "times": times, "action": action, "exit_code": exit_code}
    with state.mutate(shared, state.RULES) as st:
        st.setdefault("faults", {}).setdefault(node, []).append(rule)
        _mark_rules(shared, st)


def clear_faults(shared: Path, node: str | None = None) -> None:
    with state.mutate(shared, state.RULES) as st:
        if node is None:
            st["faults"] = {}
        else:
            st.setdefault("faults", {}).pop(node, None)
        _mark_rules(shared, st)


def set_latencies(shared: Path, latencies: dict[str, float]) -> None:
    with state.mutate(shared, state.RULES) as st:
        st["latencies"] = {str(k): float(v) for k, v in latencies.items()}
        _mark_rules(shared, st)


# In the shared directory of a real-tier lab (OpenNebula's own commands, none simulated).
REAL_TIER = "real-tier"


def _mark_rules(shared: Path, st: dict[str, Any]) -> None:
    """`rules-active` exists while a fault or latency of a non-simulated command is set.

    The session (sshd's ForceCommand) starts Python only then; the simulated tools
    apply their own rules, so a lab with tool latencies only (the bench) costs no
    Python start per SSH command.
    """
    marker = shared / "rules-active"
    patterns = [r["pattern"] for rules in st.get("faults", {}).values() for r in rules]
    patterns += list(st.get("latencies", {}))
    real = (shared / REAL_TIER).exists()  # every command real: every rule is the session's
    if any(real or not is_tool_rule(p) for p in patterns):
        marker.touch()
        os.chmod(marker, 0o666)  # noqa: S103
    else:
        marker.unlink(missing_ok=True)


def hold_vm(shared: Path, vm_id: int, lcm_state: str, seconds: float) -> None:
    from .pool import lcm_number

    lcm = lcm_number(lcm_state)
    with state.mutate(shared) as st:
        st.setdefault("holds", {})[str(vm_id)] = {"lcm": lcm, "until": time.time() + seconds}


def add_network(shared: Path, name: str, vn_mad: str) -> int:
    """A virtual network in every front-end's database (as if created before)."""
    with state.mutate(shared) as st:
        ids = [int(n["id"]) for db in st["dbs"].values() for n in db["data"].get("vnets", [])]
        new = max(ids, default=-1) + 1
        for db in st["dbs"].values():
            db["data"].setdefault("vnets", []).append({"id": new, "name": name, "vn_mad": vn_mad})
        return new


def add_vm(shared: Path, name: str) -> int:
    """A RUNNING VM, created now, in every front-end's database, on the first VM's host."""
    import time

    with state.mutate(shared) as st:
        ids = [int(v["id"]) for db in st["dbs"].values() for v in db["data"].get("vms", [])]
        new = max(ids, default=-1) + 1
        for db in st["dbs"].values():
            vms = db["data"].setdefault("vms", [])
            like = dict(vms[0]) if vms else {"host_id": 0, "host": "", "state": 3, "lcm": 3}
            like.update({"id": new, "name": name, "stime": int(time.time())})
            vms.append(like)
        return new


def set_node_up(shared: Path, name: str, up: bool) -> None:
    with state.mutate(shared) as st:
        down: list[str] = st.setdefault("down", [])
        if up and name in down:
            down.remove(name)
        elif not up and name not in down:
            down.append(name)
        raft.reconcile(st)


def busy_zone(shared: Path, busy: bool) -> None:
    """The leader commits every BUSY_TICK (a cloud whose monitoring writes all the time)."""
    with state.mutate(shared) as st:
        st.setdefault("raft", {})["busy_since"] = time.time() if busy else 0.0


def set_monitoring_interval(shared: Path, seconds: float) -> None:
    """How long after a host's monitoring (re)starts its first cycle reports."""
    with state.mutate(shared) as st:
        st["monitoring_interval"] = float(seconds)


def withhold_releases(shared: Path, releases: list[str]) -> None:
    """Releases no repository of the lab serves from now on (a mirror behind, say)."""
    with state.mutate(shared) as st:
        st["withheld_releases"] = list(releases)


def missing_driver(shared: Path, name: str, executable: str) -> None:
    """A driver executable oned on node `name` will not find at its next start."""
    with state.mutate(shared) as st:
        st.setdefault("missing_drivers", {}).setdefault(name, []).append(executable)


def clear_missing_drivers(shared: Path) -> None:
    with state.mutate(shared) as st:
        st.pop("missing_drivers", None)


def stall_follower(shared: Path, name: str, stalled: bool = True) -> None:
    """A follower that answers but no longer applies the leader's log."""
    with state.mutate(shared) as st:
        names: list[str] = st.setdefault("raft", {}).setdefault("stalled", [])
        if stalled and name not in names:
            names.append(name)
        elif not stalled and name in names:
            names.remove(name)


def fsck_errors(shared: Path, name: str, errors: list[str]) -> None:
    """Inconsistencies `onedb fsck` on node `name` will find (and repair) next time."""
    with state.mutate(shared) as st:
        st.setdefault("fsck_errors", {})[name] = list(errors)


def force_election(shared: Path, leader: str | None = None) -> None:
    with state.mutate(shared) as st:
        raft.force_election(st, leader)


# -------------------------------------------------------------------- matching


def _word_match(token: str, word: str) -> bool:
    """A word matches a token (or its file name); a word with * ? [ is a shell pattern."""
    token = token.strip("'\"")
    if token == word or token.rsplit("/", 1)[-1] == word:
        return True
    return globs.matches(token, word)  # (without * ? [ a plain comparison, done above)


def matches(pattern: str, tokens: list[str]) -> bool:
    """The pattern's words occur in order among the tokens."""
    words = pattern.split()
    i = 0
    for tok in tokens:
        if i < len(words) and _word_match(tok, words[i]):
            i += 1
    return bool(words) and i == len(words)


def is_tool_rule(pattern: str) -> bool:
    words = pattern.split()
    return bool(words) and words[0] in SIM_TOOLS


def is_pseudo(pattern: str, tool: str) -> bool:
    words = pattern.split()
    return len(words) == 2 and words[0] == tool and words[1] in PSEUDO


def snapshot() -> dict[str, Any] | None:
    """The rules (faults, latencies) once for `take_fault` and `latency` (None: unreadable)."""
    try:
        return state.load(name=state.RULES)
    except OSError:
        return None


def take_fault(
    node: str, tokens: list[str], *, tool: bool | None, st: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The first matching rule for this node (counting it down), or None.

    `tool`: rules of simulated tools only (True), of other commands only (False), or
    any rule (None: a real-tier node, where every command is real).
    `st`: a `snapshot()` to look in first (read now when not given)."""
    if st is None:
        st = snapshot()
    if st is None:
        return None

    def applies(rule: dict[str, Any]) -> bool:
        kind_ok = tool is None or is_tool_rule(rule["pattern"]) == tool
        return kind_ok and matches(rule["pattern"], tokens)

    if not any(applies(r) for r in st.get("faults", {}).get(node, [])):
        return None
    with state.mutate(name=state.RULES) as st:
        rules = st.get("faults", {}).get(node, [])
        for i, r in enumerate(rules):
            if applies(r):
                if r["times"] is not None:
                    r["times"] = int(r["times"]) - 1
                    if r["times"] <= 0:
                        del rules[i]
                return dict(r)
    return None


def latency(tokens: list[str], *, tool: str | None, st: dict[str, Any] | None = None) -> float:
    """Seconds to sleep before the command (sum of matching rules); `st` as in `take_fault`."""
    if st is None:
        st = snapshot()
    if st is None:
        return 0.0
    total = 0.0
    for pattern, secs in st.get("latencies", {}).items():
        if tool is not None and is_pseudo(pattern, tool):
            continue
        if is_tool_rule(pattern) == (tool is not None) and matches(pattern, tokens):
            total += float(secs)
    return total


# The snapshot `main` read for the running command (its pseudo-latencies come from the
# same read); None outside a command.
current: dict[str, Any] | None = None


def pseudo_latency(tool: str, what: str) -> float:
    st = current if current is not None else snapshot()
    if st is None:
        return 0.0
    return float(st.get("latencies", {}).get(f"{tool} {what}", 0.0))


# ---------------------------------------------------------------------- acting


def die_with_parent() -> None:
    import contextlib
    import ctypes  # only a hanging command needs it
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def hang() -> None:
    die_with_parent()
    while True:
        time.sleep(3600)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            text = fh.read()
        for line in text.splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def session_pids(start: int | None = None) -> list[int]:
    """The sshd session processes above us ("sshd: ..."), never the listener.

    The listener retitles itself "sshd: /usr/sbin/sshd -D ... [listener] ...".
    """
    pid = os.getppid() if start is None else start
    found: list[int] = []
    while pid > 1:
        cmd = _cmdline(pid)
        if "[listener]" in cmd or " -D " in f"{cmd} ":
            break
        if cmd.startswith("sshd:"):
            found.append(pid)
        elif found:
            break
        pid = _ppid(pid)
    return found


def drop_connection() -> None:
    import contextlib
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    for pid in session_pids():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

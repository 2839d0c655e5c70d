"""Injected faults and latencies: storing them and matching commands (how they act:
disruption.py)."""

from __future__ import annotations

import os

from . import globs, state

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

SIM_TOOLS = {
    "onezone", "onehost", "onevm", "onevnet", "onegroup", "onedb", "onecfg", "systemctl",
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

"""What each simulated command costs: the latencies the bench's lab sleeps, and a
command's latency as the critical-path model (`bench.critical_path`) counts it.

Every executed command of the audit log gets the latency the simulation slept for
it, found by the simulation's own matching (`onelab.sim.faults.matches` over the
tokens of the simulated tool in the command): the sum of the matching tool rules,
plus the package managers' pseudo-latencies "<tool> download" (when the transaction
fetched packages: apt says "Need to get N MB", dnf lists the downloaded rpms) and
"<tool> install" (when it installed: apt "Unpacking", dnf "Running transaction").
Per-command costs that are not latencies (SSH round trip, process start-up on the
node, the controller's own work) are the overhead this bench measures, so they
count zero.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from onelab.sim import faults

__all__ = ["LATENCIES", "PACKAGE_TOOLS", "latency", "tool_tokens"]

# Seconds each simulated command sleeps. Real durations on a production cluster,
# divided by about 5 so that 3 + 50 runs in about a minute and a half: a package
# download ~30 s (6), its install ~20 s (4), `onedb upgrade` of a mid-size database
# ~15 s (3), `onedb fsck`, `onedb backup` ~5 s (1), `onedb restore` ~8 s (1.5),
# starting OpenNebula's units ~5 s (1), restarting libvirt ~5 s (1), `onehost sync`
# to every host ~10 s (2), a repository refresh ~2.5 s (0.5).
LATENCIES: dict[str, float] = {
    "apt-get download": 6.0,
    "apt-get install": 4.0,
    "apt-get update": 0.5,
    "onedb upgrade": 3.0,
    "onedb fsck": 1.0,
    "onedb backup": 1.0,
    "onedb restore": 1.5,
    "systemctl start": 1.0,
    "systemctl restart": 1.0,
    "onehost sync": 2.0,
}
PACKAGE_TOOLS = {"apt-get", "dnf", "yum"}
_APT_FETCH = re.compile(r"^Need to get (?!0 B)", re.M)
_DNF_FETCH = re.compile(r"^\(\d+/\d+\): ", re.M)


def tool_tokens(command: str) -> list[list[str]]:
    """The argv (tool first) of every simulated tool a shell command runs."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        words = command.split()
    found: list[list[str]] = []
    current: list[str] | None = None
    for word in words:
        if word in {"|", "||", "&&", ";"}:
            current = None
            continue
        name = word.rsplit("/", 1)[-1]
        if current is None and name in faults.SIM_TOOLS:
            current = [name]
            found.append(current)
        elif current is not None:
            current.append(word)
    return found


def latency(record: dict[str, Any], latencies: dict[str, float]) -> float:
    """Seconds the simulation slept for this command (its rules, as the sim matches them)."""
    total = 0.0
    out = str(record.get("stdout", ""))
    for tokens in tool_tokens(str(record["command"])):
        tool = tokens[0]
        for pattern, secs in latencies.items():
            if faults.is_pseudo(pattern, tool):
                continue
            if faults.is_tool_rule(pattern) and faults.matches(pattern, tokens):
                total += secs
        if tool in PACKAGE_TOOLS:
            fetched = _APT_FETCH.search(out) if tool == "apt-get" else _DNF_FETCH.search(out)
            installed = "Unpacking " in out or "Running transaction" in out
            if fetched:
                total += latencies.get(f"{tool} download", 0.0)
            if installed:
                total += latencies.get(f"{tool} install", 0.0)
    return total

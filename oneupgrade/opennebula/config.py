"""Reading and editing /etc/one/oned.conf and /etc/one/monitord.conf text.

Only the few values the upgrade touches are parsed: FEDERATION's SERVER_ID (kept
per follower, doc step 6 note), the VIP in RAFT_LEADER_HOOK's ARGUMENTS, and
monitord's MONITOR_ADDRESS (single front-end guide step 7). Edits change those
values in place and nothing else.
"""

from __future__ import annotations

import difflib
import re

ONED_CONF = "/etc/one/oned.conf"
MONITORD_CONF = "/etc/one/monitord.conf"

_FEDERATION = re.compile(r"^\s*FEDERATION\s*=\s*\[(?P<body>.*?)\]", re.M | re.S)
_SERVER_ID = re.compile(r"(?P<head>^\s*SERVER_ID\s*=\s*)(?P<value>-?\d+)", re.M)
_LEADER_HOOK = re.compile(r"^\s*RAFT_LEADER_HOOK\s*=\s*\[(?P<body>.*?)\]", re.M | re.S)
_ARGUMENTS = re.compile(r'ARGUMENTS\s*=\s*"(?P<value>[^"]*)"')
_MONITOR_ADDRESS = re.compile(r'(?P<head>\bMONITOR_ADDRESS\s*=\s*)"(?P<value>[^"]*)"')


def server_id(oned_conf: str) -> int | None:
    """FEDERATION/SERVER_ID, or None when the file has no FEDERATION block."""
    block = _FEDERATION.search(oned_conf)
    if block is None:
        return None
    match = _SERVER_ID.search(block.group("body"))
    return int(match.group("value")) if match else None


def with_server_id(oned_conf: str, value: int) -> str:
    block = _FEDERATION.search(oned_conf)
    if block is None:
        raise ValueError("oned.conf has no FEDERATION block")
    start, end = block.span("body")
    body, count = _SERVER_ID.subn(rf"\g<head>{value}", block.group("body"), count=1)
    if count != 1:
        raise ValueError("oned.conf FEDERATION block has no SERVER_ID")
    return oned_conf[:start] + body + oned_conf[end:]


def vip(oned_conf: str) -> str | None:
    """The floating IP in RAFT_LEADER_HOOK's ARGUMENTS ("leader eth0 10.3.3.2/24")."""
    hook = _LEADER_HOOK.search(oned_conf)
    if hook is None:
        return None
    args = _ARGUMENTS.search(hook.group("body"))
    if args is None:
        return None
    for word in args.group("value").split():
        if re.match(r"^[0-9a-fA-F.:]+/\d+$", word) or re.match(r"^\d+\.\d+\.\d+\.\d+$", word):
            return word.split("/", 1)[0]
    return None


def monitor_address(monitord_conf: str) -> str | None:
    match = _MONITOR_ADDRESS.search(monitord_conf)
    return match.group("value") if match else None


def with_monitor_address(monitord_conf: str, address: str) -> str:
    text, count = _MONITOR_ADDRESS.subn(rf'\g<head>"{address}"', monitord_conf, count=1)
    if count != 1:
        raise ValueError("monitord.conf has no MONITOR_ADDRESS")
    return text


def differences(leader_conf: str, follower_conf: str) -> list[str]:
    """Lines that differ between two oned.conf texts, SERVER_ID lines excluded."""
    ignore = re.compile(r"^\s*SERVER_ID\s*=")
    a = [line for line in leader_conf.splitlines() if not ignore.match(line)]
    b = [line for line in follower_conf.splitlines() if not ignore.match(line)]
    if a == b:
        return []
    return [
        line
        for line in difflib.unified_diff(a, b, "leader", "follower", lineterm="", n=0)
        if not line.startswith("@@")
    ]

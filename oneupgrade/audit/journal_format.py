"""The journal's JSON: how it is written (one line per step, fact and run) and what
makes decoded JSON a journal at all (`oneupgrade.audit.journal` and the cluster's
copies in `oneupgrade.campaign.clusterjournal` read it)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["encode", "shape_problem"]

_COMPACT = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def encode(data: Any, depth: int = 3, pad: str = "") -> str:
    """JSON with one line per step, fact and run: readable and diffable, and encoded by
    the C encoder (json's `indent` takes the pure-Python one: ~10 times the CPU, and the
    journal is rewritten after every step and fact, hundreds of times with hundreds of
    hypervisors)."""
    if depth == 0 or not isinstance(data, dict) or not data:
        return _COMPACT.encode(data)
    inner = pad + " "
    items = [
        f"{inner}{_COMPACT.encode(str(k))}: {encode(data[k], depth - 1, inner)}"
        for k in sorted(data)
    ]
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"


def shape_problem(data: Any) -> str:
    """What makes decoded JSON no journal of ours ("" when it is one)."""
    if not isinstance(data, dict):
        return f"a journal is a JSON object, this is a JSON {type(data).__name__}"
    if not isinstance(data.get("history", []), list):
        return "its 'history' is not a JSON list"
    entries = [data.get("campaign"), *data.get("history", [])]
    for entry in (e for e in entries if e is not None):
        if not isinstance(entry, dict):
            return "a campaign entry is not a JSON object"
        for key, kind in (("facts", dict), ("steps", dict), ("runs", list)):
            if not isinstance(entry.get(key), kind):
                return f"campaign {entry.get('id', '?')} has no {key!r} {kind.__name__}"
    return ""

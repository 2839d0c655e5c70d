"""Reading OpenNebula's CLI: the JSON of `one<object> ... -j`, with its traps.

The JSON of the CLI has traps (reference §2.4, §4.6, pitfall 18): every value is a
string, a pool with one element is a dict instead of a list, an empty pool is `{}`,
and servers whose oned does not answer show `-` in every raft field. One module per
object reads it: onezone, onehost, onevm, onevnet.
"""

from __future__ import annotations

import json
from typing import Any

from oneupgrade.errors import PreconditionFailed
from oneupgrade.transport.node import Node


def as_list(value: Any) -> list[dict[str, Any]]:
    """A pool member as a list: a dict alone means one element, `{}` or None means none."""
    if not value:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def read_json(node: Node, command: str) -> dict[str, Any]:
    """What `command` printed, as JSON; a refusal names the command when it is not JSON."""
    result = node.run(command)
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise PreconditionFailed(
            f"{node}: `{command}` did not print JSON: {result.stdout[:200]!r}"
        ) from None
    return data

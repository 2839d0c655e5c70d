"""`json.loads` and `json.dumps` without importing `json` (stdlib `_json` only).

`json` imports `re` (and `re` imports `enum`): ~8 ms of every simulated command's
start-up. This module drives the same C scanner and encoder `json` uses, and writes
the indented form itself; the output is byte-for-byte `json.dumps`'s (checked by
tests/unit/test_sim_fastjson.py). Anything unusual (an error, a type other than
the JSON ones) is handed to `json` itself, so errors are `json`'s own.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    """What `_json.make_scanner` reads from a `json.JSONDecoder` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed context


def loads(text: str) -> Any:
    idx = len(text) - len(text.lstrip(_WS))
    try:
        obj, end = _scan(text, idx)
    except StopIteration:
        obj, end = None, -1
    if end < 0 or text[end:].strip(_WS):
        import json  # the exact error

        return json.loads(text)
    return obj


class _Unsupported(Exception):
    pass


def _fail(o: Any) -> Any:
    raise _Unsupported


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == float("inf"):
        return "Infinity"
    if o == float("-inf"):
        return "-Infinity"
    return float.__repr__(o)


_str = _json.encode_basestring_ascii


def _key(k: Any) -> str:
    """A dict key as json writes it: a string as it is, any other scalar as its JSON."""
    if isinstance(k, str):
        return k
    text = _scalar(k)
    if text is None:
        raise _Unsupported
    return text


def _scalar(o: Any) -> str | None:
    """The JSON of a string, number, boolean or null (None for anything else)."""
    if isinstance(o, str):
        return _str(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    return None


def _indented_list(o: Any, out: list[str], pad: str, level: int, sort_keys: bool) -> None:
    if not o:
        out.append("[]")
        return
    if level > 200:
        raise _Unsupported  # deep or circular: json's own checks
    inner = "\n" + pad * (level + 1)
    first = True
    for item in o:
        out.append("[" + inner if first else "," + inner)
        first = False
        _indented(item, out, pad, level + 1, sort_keys)
    out.append("\n" + pad * level + "]")


def _indented_dict(o: Any, out: list[str], pad: str, level: int, sort_keys: bool) -> None:
    if not o:
        out.append("{}")
        return
    if level > 200:
        raise _Unsupported
    inner = "\n" + pad * (level + 1)
    items = sorted(o.items()) if sort_keys else o.items()
    first = True
    for k, v in items:
        out.append("{" + inner if first else "," + inner)
        first = False
        out.append(_str(_key(k)) + ": ")
        _indented(v, out, pad, level + 1, sort_keys)
    out.append("\n" + pad * level + "}")


def _indented(o: Any, out: list[str], pad: str, level: int, sort_keys: bool) -> None:
    text = _scalar(o)
    if text is not None:
        out.append(text)
    elif isinstance(o, (list, tuple)):
        _indented_list(o, out, pad, level, sort_keys)
    elif isinstance(o, dict):
        _indented_dict(o, out, pad, level, sort_keys)
    else:
        raise _Unsupported


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """`json.dumps(obj, indent=indent, sort_keys=sort_keys)`; with indent None the
    separators are the compact (",", ":")."""
    try:
        if indent is None:
            enc = _json.make_encoder({}, _fail, _str, None, ":", ",", sort_keys, False, True)
            return "".join(enc(obj, 0))
        out: list[str] = []
        _indented(obj, out, " " * indent, 0, sort_keys)
        return "".join(out)
    except (_Unsupported, TypeError, ValueError, RecursionError):
        import json

        if indent is None:
            return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"))
        return json.dumps(obj, indent=indent, sort_keys=sort_keys)

"""Helpers shared by the simulated CLIs: errors, output formats, oned reachability."""

from __future__ import annotations

import sys

from .. import fastjson, paths, raft

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

CONN_REFUSED = (
    "Failed to open TCP connection to localhost:2633 "
    '(Connection refused - connect(2) for "localhost" port 2633)'
)


class Fail(Exception):
    """Print `message` to stderr and exit with `code`."""

    def __init__(self, message: str, code: int = 255) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def me() -> str:
    return str(paths.node().get("name", ""))


def out(text: str = "", end: str = "\n") -> None:
    sys.stdout.write(text + end)


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def require_oned(st: dict[str, Any]) -> str:
    name = me()
    if not st or not raft.is_running(st, name):
        raise Fail(CONN_REFUSED)
    return name


def dump_json(obj: Any) -> str:
    return fastjson.dumps(obj, indent=2)


def escape(text: str) -> str:
    """XML character data (what xml.sax.saxutils.escape does, without importing urllib)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_xml(tag: str, obj: Any, indent: int = 0) -> list[str]:
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return [f"{pad}<{tag}/>"]
        lines = [f"{pad}<{tag}>"]
        for key, value in obj.items():
            if isinstance(value, list):
                for item in value:
                    lines += to_xml(key, item, indent + 1)
            else:
                lines += to_xml(key, value, indent + 1)
        lines.append(f"{pad}</{tag}>")
        return lines
    return [f"{pad}<{tag}>{escape(str(obj))}</{tag}>"]


def xml(tag: str, obj: Any) -> str:
    return "\n".join(to_xml(tag, obj))


def fmt(choice: list[str]) -> str:
    """ "json", "xml" or "text" from the format flags in argv."""
    if "-j" in choice or "--json" in choice:
        return "json"
    if "-x" in choice or "--xml" in choice:
        return "xml"
    return "text"


def header(title: str) -> str:
    return "%-80s" % title  # noqa: UP031


def id_list(text: str) -> list[str]:
    """ "0,1,2", "0..3" or names."""
    out_: list[str] = []
    for part in text.split(","):
        if ".." in part:
            a, b = part.split("..", 1)
            out_ += [str(i) for i in range(int(a), int(b) + 1)]
        elif part:
            out_.append(part)
    return out_

"""The targets' Known Issues that doom an upgrade, as data: each is read-only.

Each entry says when it applies (source and target releases), what to look for on
the front-ends (a read-only shell command whose output is what it found; none: the
releases alone decide), and the doc's remedy. Preflight runs every entry that
applies before anything stops; the steps never branch on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from oneupgrade.opennebula import releases


@dataclass(frozen=True)
class KnownIssue:
    name: str
    applies: Callable[[tuple[int, ...], tuple[int, ...]], bool]  # (source, target)
    remedy: str
    probe: str = ""  # a read-only command on each front-end: what it prints was found


def _crosses_7_0(source: tuple[int, ...], target: tuple[int, ...]) -> bool:
    return source < (7, 0) <= target


# A key under labels_groups whose value is empty (the line "  default:" not followed
# by a more indented one): the 6.10 -> 7.0 migrator fails on it.
_EMPTY_LABELS_GROUP = r"""awk '
function flush() { if (pending != "") print FILENAME ":" pending; pending = "" }
/^labels_groups:/ { inside = 1; next }
inside && /^[^ \t#]/ { flush(); inside = 0 }
inside && !/^[ \t]*(#.*)?$/ {
    match($0, /^[ \t]*/); ind = RLENGTH
    if (pending != "" && ind > pind) pending = ""; else flush()
    if ($0 ~ /^[ \t]+[^ \t#][^:]*:[ \t]*$/) { pending = NR ": " $0; pind = ind }
}
END { flush() }' /etc/one/sunstone-views.yaml 2>/dev/null || true"""

KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        "onedb upgrade -v of 7.0.0",
        lambda source, target: target == (7, 0, 0),
        "7.0.0's migrator fails on real databases (one#7143, #7144; fixed in 7.0.1): "
        "choose 7.0.1 or newer as the target",
    ),
    KnownIssue(
        "an empty value under labels_groups in /etc/one/sunstone-views.yaml",
        _crosses_7_0,
        "the onedb migration to 7.0 fails on it (7.0 Known Issues, Migration): declare an "
        "empty array instead, e.g. `default: []`",
        _EMPTY_LABELS_GROUP,
    ),
)


def applying(source: str, target: str) -> list[KnownIssue]:
    s, t = releases.parse(source), releases.parse(releases.resolve(target))
    return [issue for issue in KNOWN_ISSUES if issue.applies(s, t)]

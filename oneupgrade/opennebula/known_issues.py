"""What the target removed, and its Known Issues that doom an upgrade, as data.

Each entry says when it applies (source and target releases), what it looks at (the
preflight survey of the nodes, the OpenNebula hosts, or the output of a read-only
shell command on each front-end), what it found, and the doc's remedy. A blocking
finding refuses the upgrade in preflight; any other is reported and the upgrade goes
on. Preflight runs every entry that applies before anything stops; the steps never
branch on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from oneupgrade import releases
from oneupgrade.opennebula.onehost import OneHost
from oneupgrade.opennebula.onevnet import OneVnet
from oneupgrade.opennebula.survey import NodeSurvey

Version = tuple[int, ...]


@dataclass(frozen=True)
class Facts:
    """What the entries judge: gathered once by preflight, read-only."""

    nodes: Mapping[str, NodeSurvey]
    hosts: Sequence[OneHost]
    networks: Sequence[OneVnet] = ()
    probes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # issue: node: out


@dataclass(frozen=True)
class KnownIssue:
    name: str
    applies: Callable[[Version, Version], bool]  # (source, target)
    find: Callable[[Facts], list[str]]  # what was found, one line each
    remedy: str
    blocking: bool = True
    probe: str = ""  # a read-only command on each front-end, its output in Facts.probes


def _crossing(release: Version) -> Callable[[Version, Version], bool]:
    return lambda source, target: source < release <= target


def _to_7_0_0(source: Version, target: Version) -> bool:
    return source < (7, 0) and target == (7, 0, 0)


def _always(what: str) -> Callable[[Facts], list[str]]:
    return lambda facts: [what]


def _probed(
    name: str, only: Callable[[NodeSurvey], bool] = lambda n: True
) -> Callable[[Facts], list[str]]:
    def find(facts: Facts) -> list[str]:
        found = []
        for node, out in sorted(facts.probes.get(name, {}).items()):
            if out.strip() and (node not in facts.nodes or only(facts.nodes[node])):
                found += [f"{node}: {line}" for line in out.strip().splitlines()[:5]]
        return found

    return find


# 7.0 removed the vCenter driver and the hybrid ec2, az and one drivers
# (7.0 Compatibility Guide, "Deprecated Components").
_DROPPED_DRIVERS_7_0 = frozenset({"vcenter", "ec2", "az", "one"})


def _hosts_on_dropped_drivers(facts: Facts) -> list[str]:
    return [
        f"host {h.name} ({h.id}): IM_MAD {h.im_mad}, VM_MAD {h.vm_mad}"
        for h in facts.hosts
        if {h.im_mad, h.vm_mad} & _DROPPED_DRIVERS_7_0
    ]


def _networks_on_ebtables(facts: Facts) -> list[str]:
    return [f"network {n.name} ({n.id}): VN_MAD {n.vn_mad}" for n in facts.networks
            if n.vn_mad == "ebtables"]  # fmt: skip


# Front-end packages of 6.x that 7.0 does not build: Ruby Sunstone, legacy provisioning.
_GONE_IN_7_0 = ("opennebula-sunstone", "opennebula-provision", "opennebula-provision-data")


def _packages_gone_in_7_0(facts: Facts) -> list[str]:
    found = []
    for name, seen in sorted(facts.nodes.items()):
        gone = [f"{p} {seen.packages[p]}" for p in _GONE_IN_7_0 if p in seen.packages]
        if gone and seen.role == "frontend":
            found.append(f"{name}: {', '.join(gone)}")
    return found


def _el9(node: NodeSurvey) -> bool:
    return node.platform.family == "rpm" and node.platform.version_id.split(".")[0] == "9"


# A key under labels_groups whose value is empty (the line "  default:" not followed
# by a more indented one), as 6.10's own sunstone-views.yaml ships it. Only 7.0.0's
# 6.10 -> 7.0 migrator fails on it (`labels.map` on nil); 7.0.1 fixed the parsing
# ("Fix default labels parsing") and 7.0.2 and 7.2.0 carry the fix, although the
# Known Issues pages of 7.0 and 7.2 still list it.
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

# The distro's nodejs 16 of EL9, which conflicts with the nodesource nodejs 20 that
# 7.2's opennebula-fireedge needs.
_EL_NODEJS = (
    "rpm -q --qf '%{NAME} %{VERSION}\\n' nodejs nodejs-libs npm 2>/dev/null "
    "| grep -E '^(nodejs|nodejs-libs|npm) 1[0-9]\\.' || true"
)

# FEDERATION/MODE of oned.conf: STANDALONE, MASTER or SLAVE.
_FEDERATION_MODE = (
    "awk '/^[ \\t]*FEDERATION[ \\t]*=/ { f = 1 } f && /^[ \\t]*MODE[ \\t]*=/ { print; exit } "
    "f && /\\]/ { f = 0 }' /etc/one/oned.conf"
)
_FEDERATED = "a zone in a federation"


def _series_change(source: Version, target: Version) -> bool:
    return source[:2] < target[:2]


def _federated(facts: Facts) -> list[str]:
    found = []
    for node, out in sorted(facts.probes.get(_FEDERATED, {}).items()):
        mode = re.search(r'MODE\s*=\s*"?([A-Za-z]+)', out)
        if mode and mode.group(1).upper() in ("MASTER", "SLAVE"):
            found.append(f"{node}: oned.conf FEDERATION MODE = {mode.group(1).upper()}")
    return found


_LABELS = "an empty value under labels_groups in /etc/one/sunstone-views.yaml"
_NODEJS = "the distro's nodejs packages on RHEL/AlmaLinux 9"

KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        _FEDERATED,
        _series_change,
        _federated,
        "every series from 6.10 to 7.2 changes the federation data model (Upgrading "
        "Federated Instances): the zones are upgraded together, the master first, its "
        "federated tables taken with `onedb backup -v --federated` and restored in every "
        "slave with `onedb restore -v --federated`; this runbook upgrades one zone, so "
        "follow that page for a federation",
        probe=_FEDERATION_MODE,
    ),
    KnownIssue(
        "onedb upgrade -v of 7.0.0",
        lambda source, target: target == (7, 0, 0),
        _always("the target is exactly 7.0.0"),
        "7.0.0's migrator fails on real databases (one#7143, #7144; fixed in 7.0.1): "
        "choose 7.0.1 or newer as the target",
    ),
    KnownIssue(
        _LABELS,
        _to_7_0_0,
        _probed(_LABELS),
        "7.0.0's onedb migration fails on it (7.0 Known Issues, Migration): declare an "
        "empty array instead, e.g. `default: []`, or choose 7.0.1 or newer",
        probe=_EMPTY_LABELS_GROUP,
    ),
    KnownIssue(
        "hosts on drivers that 7.0 removed",
        _crossing((7, 0)),
        _hosts_on_dropped_drivers,
        "7.0 discontinued the vCenter driver and the ec2, az and one hybrid drivers (7.0 "
        "Compatibility Guide, Deprecated Components): move their workloads and delete "
        "these hosts (onehost delete) before upgrading",
    ),
    KnownIssue(
        "networks on the ebtables driver that 7.0 removed",
        _crossing((7, 0)),
        _networks_on_ebtables,
        "7.0 no longer ships the ebtables network driver (7.0 Compatibility Guide, "
        "Deprecated Components): move these networks to another driver (802.1Q VLAN, "
        "for instance) or delete them before upgrading",
    ),
    KnownIssue(
        "front-end packages that 7.0 no longer ships",
        _crossing((7, 0)),
        _packages_gone_in_7_0,
        "7.0 removed Ruby Sunstone and the legacy provisioning (7.0 Compatibility Guide): "
        "these packages stay at the source release and serve nothing; remove them after "
        "the upgrade (apt-get purge or dnf remove)",
        blocking=False,
    ),
    KnownIssue(
        _NODEJS,
        _crossing((7, 2)),
        _probed(_NODEJS, only=_el9),
        "they conflict with the nodejs 20 that 7.2's opennebula-fireedge needs (7.2 Known "
        "Issues, Upgrade): remove them first with "
        "`rpm -e --nodeps nodejs nodejs-docs nodejs-full-i18n nodejs-libs npm`",
        probe=_EL_NODEJS,
    ),
)


def applying(source: str, target: str) -> list[KnownIssue]:
    s, t = releases.parse(source), releases.parse(releases.resolve(target))
    return [issue for issue in KNOWN_ISSUES if issue.applies(s, t)]


def findings(issue: KnownIssue, facts: Facts) -> list[str]:
    """`issue`'s findings, each naming what was found and the doc's remedy."""
    return [f"{issue.name}: {found}: {issue.remedy}" for found in issue.find(facts)]

"""Known issues as data: when each applies, and the labels_groups probe on real awk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneupgrade.opennebula import known_issues, system
from oneupgrade.opennebula.onehost import OneHost
from oneupgrade.opennebula.onevnet import OneVnet
from oneupgrade.opennebula.survey import NodeSurvey

VIEWS = "/etc/one/sunstone-views.yaml"


def _names(source: str, target: str) -> list[str]:
    return [i.name for i in known_issues.applying(source, target)]


CROSSING_7_0 = [
    "hosts on drivers that 7.0 removed",
    "networks on the ebtables driver that 7.0 removed",
    "front-end packages that 7.0 no longer ships",
]


def test_what_applies_follows_source_and_target() -> None:
    fed = "a zone in a federation"
    assert _names("6.10.5", "7.0.0") == [
        fed,
        "onedb upgrade -v of 7.0.0",
        "an empty value under labels_groups in /etc/one/sunstone-views.yaml",
        *CROSSING_7_0,
    ]
    # 7.0.1 fixed the migrator's labels parsing: a series target means its newest release
    assert _names("6.10.5", "7.0") == [fed, *CROSSING_7_0]
    assert _names("6.10.5", "7.2") == [
        fed,
        *CROSSING_7_0,
        "the distro's nodejs packages on RHEL/AlmaLinux 9",
    ]
    assert _names("7.0.2", "7.2") == [fed, "the distro's nodejs packages on RHEL/AlmaLinux 9"]
    assert _names("7.2.0", "7.2.1") == []  # within a series: no data model change


def test_a_master_or_slave_zone_is_found_and_a_standalone_one_is_not(tmp_path: Path) -> None:
    issue = _issue("a zone in a federation")
    outputs = {}
    for node, mode in (("fe1", "STANDALONE"), ("fe2", "MASTER"), ("fe3", "SLAVE")):
        conf = tmp_path / f"{node}.conf"
        conf.write_text(
            'LOG = [\n  SYSTEM = "file"\n]\n'
            f'FEDERATION = [\n    MODE          = "{mode}",\n    ZONE_ID       = 0,\n'
            '    SERVER_ID     = -1,\n    MASTER_ONED   = ""\n]\nMODE = "X"\n'
        )
        command = issue.probe.replace("/etc/one/oned.conf", str(conf))
        run = subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True)
        outputs[node] = run.stdout
    found = known_issues.findings(issue, known_issues.Facts({}, [], probes={issue.name: outputs}))
    assert [f.split(": ")[1] for f in found] == ["fe2", "fe3"], found
    assert "oned.conf FEDERATION MODE = MASTER" in found[0]
    assert "onedb backup -v --federated" in found[0]


def _survey(name: str, role: str, packages: dict[str, str], os_id: str = "debian",
            version_id: str = "12") -> NodeSurvey:  # fmt: skip
    family = "rpm" if os_id in ("almalinux", "rhel") else "deb"
    plat = system.Platform(family, f"{os_id} {version_id}", os_id, version_id)
    return NodeSurvey(name, role, plat, packages, packages.get("opennebula"))


def _issue(name: str) -> known_issues.KnownIssue:
    (issue,) = [i for i in known_issues.KNOWN_ISSUES if i.name == name]
    return issue


def test_hosts_on_a_removed_driver_are_named_with_their_drivers() -> None:
    hosts = [
        OneHost(0, "hv1", 2, "kvm", "6.10.5", "", "kvm"),
        OneHost(3, "vc1", 2, "vcenter", "", "", "vcenter"),
        OneHost(4, "aws", 2, "ec2", "", "", "ec2"),
    ]
    found = known_issues.findings(
        _issue("hosts on drivers that 7.0 removed"), known_issues.Facts({}, hosts)
    )
    assert [f.split(": ")[1] for f in found] == [
        "host vc1 (3)",
        "host aws (4)",
    ], found
    assert "IM_MAD vcenter, VM_MAD vcenter" in found[0]
    assert "onehost delete" in found[0]


def test_front_end_packages_gone_in_7_0_are_reported_without_blocking() -> None:
    issue = _issue("front-end packages that 7.0 no longer ships")
    nodes = {
        "fe1": _survey(
            "fe1", "frontend", {"opennebula": "6.10.5", "opennebula-sunstone": "6.10.5"}
        ),
        "fe2": _survey("fe2", "frontend", {"opennebula": "6.10.5"}),
        "hv1": _survey("hv1", "hypervisor", {"opennebula-node-kvm": "6.10.5"}),
    }
    found = known_issues.findings(issue, known_issues.Facts(nodes, []))
    assert not issue.blocking
    assert len(found) == 1, found
    assert "fe1: opennebula-sunstone 6.10.5" in found[0], found


def test_nodejs_counts_only_on_el9_front_ends() -> None:
    issue = _issue("the distro's nodejs packages on RHEL/AlmaLinux 9")
    nodes = {
        "fe1": _survey("fe1", "frontend", {"opennebula": "7.0.2"}, "almalinux", "9.4"),
        "fe2": _survey("fe2", "frontend", {"opennebula": "7.0.2"}, "almalinux", "8.10"),
    }
    probes = {issue.name: {"fe1": "nodejs 16.20.2\n", "fe2": "nodejs 16.20.2\n"}}
    found = known_issues.findings(issue, known_issues.Facts(nodes, [], probes=probes))
    assert len(found) == 1, found
    assert "fe1: nodejs 16.20.2" in found[0], found
    assert "rpm -e --nodeps nodejs" in found[0]


def _probe(tmp_path: Path, text: str) -> str:
    views = tmp_path / "sunstone-views.yaml"
    views.write_text(text)
    issue = _issue("an empty value under labels_groups in /etc/one/sunstone-views.yaml")
    command = issue.probe.replace(VIEWS, str(views))
    return subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    "text",
    [
        "logo: images/opennebula.png\nlabels_groups:\n  default: []\n",
        "labels_groups:\n  default:\n    - prod\n    - test\n  oneadmin: []\nusers: {}\n",
        "labels_groups: {}\n",
    ],
)
def test_a_well_formed_labels_groups_is_not_found(tmp_path: Path, text: str) -> None:
    assert _probe(tmp_path, text) == ""


def test_an_empty_value_under_labels_groups_is_found_with_its_line(tmp_path: Path) -> None:
    found = _probe(tmp_path, "logo: x\nlabels_groups:\n  default:\nusers:\n  a: 1\n")
    assert found.endswith("sunstone-views.yaml:3:   default:\n"), found
    found = _probe(tmp_path, "labels_groups:\n  ops:\n    - a\n  default:\n")
    assert found.endswith(":4:   default:\n"), found


def test_networks_on_ebtables_are_named() -> None:
    nets = [OneVnet(0, "prod", "802.1Q"), OneVnet(4, "legacy", "ebtables")]
    issue = _issue("networks on the ebtables driver that 7.0 removed")
    found = known_issues.findings(issue, known_issues.Facts({}, [], nets))
    assert len(found) == 1, found
    assert "network legacy (4): VN_MAD ebtables" in found[0]
    assert issue.blocking

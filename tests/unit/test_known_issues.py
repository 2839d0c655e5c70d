"""Known issues as data: when each applies, and the labels_groups probe on real awk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneupgrade.opennebula import known_issues

VIEWS = "/etc/one/sunstone-views.yaml"


def _names(source: str, target: str) -> list[str]:
    return [i.name for i in known_issues.applying(source, target)]


def test_what_applies_follows_source_and_target() -> None:
    assert _names("6.10.5", "7.0.0") == [
        "onedb upgrade -v of 7.0.0",
        "an empty value under labels_groups in /etc/one/sunstone-views.yaml",
    ]
    assert _names("6.10.5", "7.0") == [
        "an empty value under labels_groups in /etc/one/sunstone-views.yaml"
    ]
    assert _names("7.0.2", "7.2") == []


def _probe(tmp_path: Path, text: str) -> str:
    views = tmp_path / "sunstone-views.yaml"
    views.write_text(text)
    (issue,) = [i for i in known_issues.KNOWN_ISSUES if i.probe]
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

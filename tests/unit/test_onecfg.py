"""`onecfg status` read before the stop: its exit codes and ERROR lines read apart."""

from __future__ import annotations

import pytest

from oneupgrade.opennebula import onecfg
from oneupgrade.result import CommandResult

CLEAN = "--- Versions ---\nOpenNebula:  7.0.2\nConfig:      7.0.0\n\nNo updates available.\n"
PENDING = (
    "--- Versions ------------------------------\nOpenNebula:  7.0.2\nConfig:      6.10.0\n\n"
    "--- Available Configuration Updates -------\nNew config:  7.0.0\n"
    "- from 6.10.0 to 6.10.2 (YAML,Ruby)\n- from 6.10.2 to 7.0.0 (YAML,Ruby)\n"
)
VERSIONS = "--- Versions ------------------------------\nOpenNebula:  7.0.2\n"


def _judge(rc: int, out: str) -> tuple[list[str], list[str]]:
    found = CommandResult("fe1", "onecfg status", rc, out, "", 0.0, 0.1)
    return onecfg.before_the_stop("fe1", found)


def test_a_clean_state_passes() -> None:
    assert _judge(0, CLEAN) == ([], [])


def test_an_unknown_version_needs_no_action() -> None:
    refusals, notes = _judge(
        255, VERSIONS + "Config:      unknown\nERROR: Unknown config version\n"
    )
    assert refusals == []
    assert notes == ["fe1: onecfg status: unknown config version; the upgrade initialises it"]


def test_outdated_metadata_is_refused_with_init_force() -> None:
    out = VERSIONS + "Config:      6.10.0\nERROR: Configurations metadata are outdated.\n"
    refusals, notes = _judge(255, out)
    assert notes == []
    assert len(refusals) == 1
    assert "ERROR: Configurations metadata are outdated." in refusals[0]
    assert "onecfg init --force" in refusals[0]


def test_pending_updates_are_refused_naming_them() -> None:
    (refusal,), _ = _judge(1, PENDING)
    steps = "- from 6.10.0 to 6.10.2 (YAML,Ruby); - from 6.10.2 to 7.0.0 (YAML,Ruby)"
    assert f"pending ({steps})" in refusal
    assert "onecfg upgrade" in refusal


@pytest.mark.parametrize(
    ("rc", "out", "why"),
    [
        (255, VERSIONS.replace("7.0.2", "unknown") + "ERROR: Unknown OpenNebula version\n",
         "ERROR: Unknown OpenNebula version"),
        (3, "something else\n", "something else"),
    ],
)  # fmt: skip
def test_any_other_error_is_refused_with_its_line(rc: int, out: str, why: str) -> None:
    (refusal,), _ = _judge(rc, out)
    assert f"onecfg status exited {rc}: {why}" in refusal

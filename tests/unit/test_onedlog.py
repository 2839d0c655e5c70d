"""oned.log since the last start: errors and drivers that did not load."""

from __future__ import annotations

from oneupgrade.opennebula import onedlog

T = "Thu Dec  3 10:00:00 2026"


def _log(*entries: str) -> str:
    return "".join(f"{T} {e}\n" for e in entries)


EARLIER = _log(
    "[Z0][ONE][I]: Starting OpenNebula 6.10.5 ()",
    "[Z0][ONE][E]: Database version mismatch ( local_db_versioning).",
)
CLEAN_START = _log(
    "[Z0][ONE][I]: Starting OpenNebula 7.0.2 ()",
    "[Z0][DrM][I]: Loading drivers.",
    "[Z0][DrM][I]: Loading driver: kvm",
    "[Z0][DrM][I]: \tDriver loaded: kvm",
    "[Z0][VMM][I]: Loading Virtual Machine Manager drivers.",
    "[Z0][VMM][I]: \tLoading driver: qemu (QEMU)",
    "[Z0][VMM][I]: \tDriver qemu loaded.",
    "[Z0][RRM][E]: Failed to get heartbeat from leader. Starting election proccess",
    "[Z0][ReM][E]: Req:9136 UID:0 one.host.status result FAILURE [one.host.status] "
    "Cannot process request, zone disabled",
)


def test_only_the_last_start_counts_and_request_failures_are_not_oneds() -> None:
    lines = onedlog.since_last_start(EARLIER + "----\nconfiguration dump\n" + CLEAN_START)
    assert lines[0].endswith("Starting OpenNebula 7.0.2 ()")
    assert onedlog.problems(lines) == []


def test_errors_and_a_driver_that_never_loaded_are_named() -> None:
    text = CLEAN_START + _log(
        "[Z0][VMM][I]: \tLoading driver: lxc (XML)",
        "[Z0][DrM][E]: File not exists: /usr/lib/one/mads/one_vmm_exec",
        "[Z0][RRM][E]: Error replicating log entry 12 on follower 2",
        "[Z0][ONE][E]: Error connecting to the database",
    )
    found = onedlog.problems(onedlog.since_last_start(text))
    assert found == [
        f"{T} [Z0][DrM][E]: File not exists: /usr/lib/one/mads/one_vmm_exec",
        f"{T} [Z0][RRM][E]: Error replicating log entry 12 on follower 2",
        f"{T} [Z0][ONE][E]: Error connecting to the database",
        "driver lxc: loading began but it never reported loaded",
    ]


def test_a_log_without_a_start_gives_no_lines() -> None:
    assert onedlog.since_last_start("configuration dump only\n") == []

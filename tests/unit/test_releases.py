from oneupgrade import releases
from oneupgrade.opennebula import system


def test_targets_are_known_series_or_releases() -> None:
    assert releases.is_known("7.0")
    assert releases.is_known("7.0.1")
    assert not releases.is_known("7.1")
    assert not releases.is_known("7.0.9")
    assert not releases.is_known("seven")


def test_a_series_resolves_to_its_newest_release() -> None:
    assert releases.resolve("6.10") == "6.10.5"
    assert releases.resolve("7.0.1") == "7.0.1"
    assert releases.resolve("7.0") == "7.0.3"
    assert releases.resolve("7.2") == "7.2.1"


def test_at_target_compares_series_or_exact_release() -> None:
    assert system.at_target("7.0.2", "7.0")
    assert not system.at_target("6.10.5", "7.0")
    assert system.at_target("7.0.1", "7.0.1")
    assert not system.at_target("7.0.2", "7.0.1")
    assert not system.at_target(None, "7.0")


def test_units_differ_by_series() -> None:
    assert "opennebula-scheduler.service" in releases.series("6.10.5").units
    assert "opennebula-scheduler.service" not in releases.series("7.0.0").units

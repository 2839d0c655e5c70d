"""The journal survives reruns: facts observed before a change are kept, saves are atomic."""

import json
from pathlib import Path

import pytest

from oneupgrade.audit.journal import Journal, JournalUnreadable


def test_facts_observed_before_a_change_survive_a_rerun(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    first = Journal.load(path)
    first.start_campaign("c", "6.10.5", "7.0", "run1")
    assert first.remember_once("hosts_enabled_before", {"0": "hv1"}) == {"0": "hv1"}
    again = Journal.load(path)
    # a rerun observes every host disabled; the campaign keeps what was true before
    assert again.remember_once("hosts_enabled_before", {}) == {"0": "hv1"}


def test_step_outcomes_are_kept_per_campaign(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "j.json")
    journal.start_campaign("c", "6.10.5", "7.0", "run1")
    journal.record_step("test_03::a", "passed", "run1", 0.0, 1.0)
    journal.record_step("test_04::b", "failed", "run1", 0.0, 1.0, "boom")
    assert journal.passed_steps() == {"test_03::a": "run1"}
    journal.start_campaign("c", "7.0.2", "7.2", "run2")
    assert journal.passed_steps() == {}
    assert len(journal.data["history"]) == 1


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{ not json", "not valid JSON"),
        ("[1, 2]", "a journal is a JSON object, this is a JSON list"),
        ('{"campaign": {"id": "r1", "steps": {}, "runs": []}}', "campaign r1 has no 'facts' dict"),
        ('{"history": {"a": 1}}', "its 'history' is not a JSON list"),
    ],
)
def test_an_unreadable_journal_is_refused_naming_the_file_and_the_choices(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "journal.json"
    path.write_text(text)
    with pytest.raises(JournalUnreadable) as caught:
        Journal.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert why in message
    assert "restore it" in message
    assert "--new-campaign" in message
    assert path.read_text() == text  # left exactly as it was


def test_an_unreadable_journal_is_set_aside_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text("{ not json")
    planned = Journal.load(path, new_campaign=True, dry_run=True)
    assert planned.data == {}
    assert planned.set_aside is None
    assert not planned.persist
    assert path.read_text() == "{ not json"  # a dry run moves nothing
    journal = Journal.load(path, new_campaign=True)
    assert journal.data == {}
    assert journal.set_aside is not None
    assert journal.set_aside.name.startswith("journal.unreadable-")
    assert journal.set_aside.read_text() == "{ not json"
    assert not path.exists()


def test_a_dry_run_journal_writes_nothing(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "j.json")
    journal.persist = False
    journal.start_campaign("c", "6.10.5", "7.0", "run1")
    assert not (tmp_path / "j.json").exists()


def test_saves_leave_no_temporary_files(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "j.json")
    journal.start_campaign("c", "6.10.5", "7.0", "run1")
    for i in range(5):
        journal.remember(f"k{i}", i)
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]
    assert json.loads((tmp_path / "j.json").read_text())["campaign"]["facts"]["k4"] == 4


def test_the_file_has_one_line_per_step_and_fact(tmp_path: Path) -> None:
    journal = Journal.load(tmp_path / "j.json")
    journal.start_campaign("c", "6.10.5", "7.0", "run1")
    journal.remember_all({f"hypervisor_done/hv{i}": True for i in range(3)})
    journal.remember("db_backup/fe1", {"path": "/var/lib/one/x.sql", "sha256": "ab"})
    journal.record_step("test_09::t", "passed", "run1", 0.0, 1.0)
    text = (tmp_path / "j.json").read_text()
    lines = text.splitlines()
    assert '   "hypervisor_done/hv1": true,' in lines
    assert '   "db_backup/fe1": {"path":"/var/lib/one/x.sql","sha256":"ab"},' in lines
    assert any(line.startswith('   "test_09::t": {"duration":1.0') for line in lines)
    assert Journal.load(tmp_path / "j.json").data == journal.data

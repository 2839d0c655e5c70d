"""The journal's copies on the front-ends set against the controller's (clusterjournal.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oneupgrade.audit.journal import Journal
from oneupgrade.campaign import clusterjournal
from tests.unit.fakes import FakeNode


def _journal(campaign: str, seq: int, history: tuple[str, ...] = ()) -> dict[str, Any]:
    def entry(cid: str) -> dict[str, Any]:
        empty: dict[str, Any] = {"runs": [], "steps": {}, "facts": {}, "completed": None}
        return {"id": cid, "kind": "upgrade", "source": "6.10.5", "target": "7.0",
                "started": 1.0e9, **empty}  # fmt: skip

    return {"campaign": entry(campaign), "history": [entry(h) for h in history], "seq": seq}


def _frontends(*copies: dict[str, Any] | None) -> list[FakeNode]:
    nodes = []
    for i, copy in enumerate(copies, 1):
        answer = (0, json.dumps(copy), "") if copy is not None else (1, "", "")
        nodes.append(FakeNode(f"fe{i}", answers={f"cat {clusterjournal.COPY}": answer}))
    return nodes


def test_the_same_campaign_is_ordered_by_its_sequence_number() -> None:
    assert clusterjournal.newer(_journal("A", 9), _journal("A", 8)) is True
    assert clusterjournal.newer(_journal("A", 8), _journal("A", 9)) is False


def test_a_campaign_is_ahead_of_the_ones_its_history_holds() -> None:
    assert clusterjournal.newer(_journal("B", 1, ("A",)), _journal("A", 50)) is True
    assert clusterjournal.newer(_journal("A", 50), _journal("B", 1, ("A",))) is False
    assert clusterjournal.newer(_journal("A", 1), _journal("C", 1)) is None


def test_a_controller_without_a_journal_takes_the_newest_copy_and_says_so(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json")
    nodes = _frontends(_journal("A", 7), None, _journal("A", 12))
    note = clusterjournal.reconcile(journal, nodes)  # type: ignore[arg-type]
    assert note is not None
    assert note.startswith("campaign journal taken from the cluster")
    assert "(read on fe3)" in note
    assert journal.campaign is not None
    assert journal.campaign["id"] == "A"
    saved = json.loads((tmp_path / "journal.json").read_text())
    assert saved["seq"] == 12  # the copy as it is: its number is the cluster's


def test_a_newer_local_journal_is_kept_to_be_written_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json", _journal("A", 20))
    note = clusterjournal.reconcile(journal, _frontends(_journal("A", 12)))  # type: ignore[arg-type]
    assert note is not None
    assert "newer than the cluster's" in note
    assert journal.seq == 20


def test_damaged_copies_are_passed_over(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json")
    broken = FakeNode("fe1", answers={f"cat {clusterjournal.COPY}": (0, '{"campaign": [', "")})
    good = _frontends(None, _journal("A", 3))[1]
    assert clusterjournal.reconcile(journal, [broken, good]) is not None
    assert journal.campaign is not None


def test_two_unordered_campaigns_are_refused_naming_both_and_the_choices(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json", _journal("LOCAL", 40))
    nodes = _frontends(_journal("CLUSTER", 5))
    with pytest.raises(clusterjournal.CampaignConflict) as refused:
        clusterjournal.reconcile(journal, nodes)  # type: ignore[arg-type]
    text = str(refused.value)
    assert "campaign LOCAL" in text
    assert "campaign CLUSTER" in text
    assert "--campaign-from cluster" in text
    assert "--campaign-from local" in text
    assert journal.campaign is not None
    assert journal.campaign["id"] == "LOCAL"  # nothing taken


def test_campaign_from_cluster_keeps_the_local_journal_aside(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(_journal("LOCAL", 40)))
    journal = Journal.load(path)
    clusterjournal.reconcile(journal, _frontends(_journal("CLUSTER", 5)), "cluster")  # type: ignore[arg-type]
    assert journal.campaign is not None
    assert journal.campaign["id"] == "CLUSTER"
    aside = list(tmp_path.glob("journal.replaced-*.json"))
    assert len(aside) == 1
    assert json.loads(aside[0].read_text())["campaign"]["id"] == "LOCAL"


def test_campaign_from_local_numbers_this_journal_past_the_cluster_copies(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json", _journal("LOCAL", 4))
    clusterjournal.reconcile(journal, _frontends(_journal("CLUSTER", 30)), "local")  # type: ignore[arg-type]
    assert journal.campaign is not None
    assert journal.campaign["id"] == "LOCAL"
    assert journal.seq > 30

"""The campaign's journal kept with the cluster: a copy on every front-end.

The controller's journal (reports/<cluster>/journal.json) is the working copy; after
each step of a run that holds the cluster lock, it is written to every front-end the
lock holds, as LOCK_DIR/journal.json (root-only; written to a temporary file and renamed,
so a reader sees the old copy or the new one, never half of one). Each copy carries the
campaign's id and the journal's sequence number, which every save raises.

At the start of every run (dry runs included) the copies are read and set against the
local journal:
- the cluster's is newer (the same campaign further on, or a campaign whose history holds
  the local one), or there is no local journal: the cluster's is taken, and the run says so;
- the local one is newer: it is written back when this run first holds the lock;
- two campaigns that neither history contains (two controllers began apart): the run is
  refused with both described, and `--campaign-from cluster|local` chooses.
"""

from __future__ import annotations

import json
import shlex
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from oneupgrade.audit.journal import Journal
from oneupgrade.audit.journal_format import shape_problem
from oneupgrade.campaign.clusterlock import LOCK_DIR
from oneupgrade.errors import RunbookError
from oneupgrade.transport.node import Node

COPY = f"{LOCK_DIR}/journal.json"
CHOICES = ("cluster", "local")


class CampaignConflict(RunbookError):
    """The local journal and the cluster's copy are of two unordered campaigns."""


@dataclass(frozen=True)
class Copy:
    node: str
    data: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.data.get("seq") or 0)

    @property
    def campaign_id(self) -> str | None:
        return _campaign_id(self.data)


Carry = Callable[[], AbstractContextManager[None]]


def read_copies(frontends: list[Node], carry: Carry = nullcontext) -> list[Copy]:
    """Every front-end's consistent copy (unreachable front-ends and damaged copies are
    left out: the newest consistent one is what counts). `carry`: the recorder's
    attribution, into the pool's threads."""

    def one(node: Node) -> Copy | None:
        try:
            with carry():
                found = node.run(f"cat {COPY} 2>/dev/null", check=False)
        except RunbookError:
            return None
        if not found.ok or not found.stdout.strip():
            return None
        try:
            data = json.loads(found.stdout)
        except ValueError:
            return None
        if shape_problem(data) or not isinstance(data.get("seq"), int):
            return None
        return Copy(node.name, data)

    with ThreadPoolExecutor(max_workers=max(1, len(frontends))) as pool:
        return [c for c in pool.map(one, frontends) if c is not None]


def _history_ids(data: dict[str, Any]) -> set[str]:
    return {str(c.get("id")) for c in data.get("history") or [] if isinstance(c, dict)}


def _campaign_id(data: dict[str, Any]) -> str | None:
    campaign = data.get("campaign") or {}
    return str(campaign["id"]) if campaign.get("id") else None


def newer(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Is journal `a` ahead of `b`? None when they cannot be ordered."""
    ida, idb = _campaign_id(a), _campaign_id(b)
    if ida == idb:
        return int(a.get("seq") or 0) > int(b.get("seq") or 0)
    if idb is None or idb in _history_ids(a):
        return True
    if ida is None or ida in _history_ids(b):
        return False
    return None


def newest(copies: list[Copy]) -> Copy:
    """The copy ahead of every other; CampaignConflict when copies disagree unordered."""
    best = copies[0]
    for copy in copies[1:]:
        ahead = newer(copy.data, best.data)
        if ahead is None:
            raise CampaignConflict(
                f"the front-ends hold two campaigns that neither history contains: "
                f"{describe(best.data)} on {best.node}, {describe(copy.data)} on {copy.node}"
            )
        if ahead:
            best = copy
    return best


def describe(data: dict[str, Any]) -> str:
    campaign = data.get("campaign")
    if not campaign:
        return "no campaign"
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(campaign.get("started", 0))))
    state = "completed" if campaign.get("completed") else "in progress"
    passed = sum(1 for s in campaign.get("steps", {}).values() if s.get("outcome") == "passed")
    by = data.get("written_by") or "this controller"
    return (
        f"{campaign.get('kind', 'upgrade')} campaign {campaign.get('id')} "
        f"{campaign.get('source')} -> {campaign.get('target')}, started {started}, {state}, "
        f"{passed} step(s) passed, journal #{data.get('seq', 0)} written by {by}"
    )


def reconcile(
    journal: Journal, frontends: list[Node], choice: str | None = None, carry: Carry = nullcontext
) -> str | None:
    """Set the local journal against the cluster's copies; returns what was done, to say
    (None: nothing to say). Refuses two unordered campaigns unless `choice` decides."""
    copies = read_copies(frontends, carry)
    if not copies:
        return None
    if choice == "local":
        journal.bump_seq(max(c.seq for c in copies))
        return "--campaign-from local: this controller's journal is written over the cluster's"
    best = newest(copies) if choice != "cluster" else max(copies, key=lambda c: c.seq)
    local = journal.data
    has_local = bool(local.get("campaign") or local.get("history"))
    ahead = True if not has_local or choice == "cluster" else newer(best.data, local)
    if ahead is None:
        raise CampaignConflict(
            "the campaign journal here and the one on the cluster are two campaigns that "
            f"neither history contains: here {describe(local)}; on {best.node} "
            f"{describe(best.data)}. Choose with --campaign-from cluster (take the "
            "cluster's; this journal is kept aside) or --campaign-from local (write this "
            "one over the cluster's)"
        )
    if not ahead:
        if best.seq == int(local.get("seq") or 0) and best.campaign_id == _campaign_id(local):
            return None
        return f"this controller's journal is newer than the cluster's ({best.node}): written back"
    journal.adopt(best.data, keep_aside=has_local and choice == "cluster")
    return f"campaign journal taken from the cluster: {describe(best.data)} (read on {best.node})"


def publish(journal: Journal, nodes: list[Node], carry: Carry = nullcontext) -> None:
    """Write the journal to `nodes` (the front-ends the lock holds), atomically."""
    payload = journal.snapshot(written_by=socket.gethostname()).encode()
    tmp = shlex.quote(f"{LOCK_DIR}/.journal.tmp")
    command = f"umask 077 && cat > {tmp} && mv -f {tmp} {shlex.quote(COPY)}"

    def one(node: Node) -> None:
        with carry():
            node.run(command, stdin=payload)

    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        for future in [pool.submit(one, n) for n in nodes]:
            future.result()

"""The campaign kept with the cluster, for one run: its lock (clusterlock.py) and its
journal's copies on the front-ends (clusterjournal.py), in the order a run needs them.

    keeper = ClusterCampaign(cluster, journal, run_id, dry_run=..., campaign_from=...)
    keeper.reconcile()        # at the start: the newest journal of the campaign, said
    keeper.lock(break_run)    # before the first step that may change the cluster
    keeper.ensure()           # before each such step: the lock still held everywhere
    keeper.after_step()       # at each step's end: the journal to the front-ends the lock holds
    keeper.finish()           # a last write, then the lock released
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from oneupgrade.audit.journal import Journal
from oneupgrade.campaign import clusterjournal
from oneupgrade.campaign.clusterlock import ClusterLock
from oneupgrade.cluster import Cluster
from oneupgrade.errors import RunbookError


@dataclass
class ClusterCampaign:
    cluster: Cluster
    journal: Journal
    run_id: str
    dry_run: bool = False
    campaign_from: str | None = None  # --campaign-from cluster|local
    # how this bookkeeping is recorded: in the audit log, in no report row of a step
    carry: Callable[[], AbstractContextManager[None]] = nullcontext
    notes: list[str] = field(default_factory=list)
    _lock: ClusterLock | None = None
    _published: int = -1  # the journal's seq last written to the cluster

    def reconcile(self) -> str | None:
        """Read the front-ends' copies and set the local journal against them (raises
        CampaignConflict for two unordered campaigns)."""
        note = clusterjournal.reconcile(
            self.journal, self.cluster.frontends, self.campaign_from, self.carry
        )
        if note:
            self.notes.append(note)
        return note

    @property
    def locked(self) -> bool:
        return self._lock is not None and self._lock.held

    def lock(self, break_run: str | None = None) -> list[str]:
        """Take the cluster lock (after ending the session of `break_run` if named);
        returns what to show. Raises ClusterLocked."""
        lock = self._lock or ClusterLock(self.cluster, self.run_id, self.cluster.procedure)
        self._lock = lock
        with self.carry():
            shown = lock.break_lock(break_run) if break_run else []
            taken = lock.acquire()
        shown.append(f"cluster lock held on {', '.join(taken)} by run {self.run_id}")
        self.notes.extend(shown)
        self.journal.flush()  # what preflight recorded, kept in memory until now
        self.after_step()  # and to the cluster (a journal newer than its copy goes back)
        return shown

    def ensure(self) -> None:
        """Before a step that may change the cluster: the lock held on every front-end it
        was taken on (a dropped connection lost it there: taken again, or refused)."""
        if self._lock is not None:
            with self.carry():
                self._lock.acquire()

    def after_step(self) -> None:
        if self.dry_run or not self.locked or self.journal.seq == self._published:
            return
        assert self._lock is not None
        nodes = [self.cluster.nodes[name] for name in self._lock.holds]
        try:
            clusterjournal.publish(self.journal, nodes, self.carry)
        except RunbookError as exc:  # the next step writes it again
            self.notes.append(f"the journal could not be written to the cluster: {exc}")
            return
        self._published = self.journal.seq

    def finish(self) -> None:
        try:
            self.after_step()
        finally:
            if self._lock is not None:
                self._lock.release()

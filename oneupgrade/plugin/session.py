"""The runbook session: one plugin object, registered only with `--inventory`.

It is the run's state (state.py) with every group of its hooks: which steps run
(selection.py), each step run, journaled and halted on (steps.py), a stop half way
(interrupts.py), the end of the run (closing.py); and the hooks of the session
itself, below.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from oneupgrade.campaign import clusterjournal
from oneupgrade.plugin.closing import Closing
from oneupgrade.plugin.interrupts import Interrupts
from oneupgrade.plugin.selection import StepSelection
from oneupgrade.plugin.steps import StepHooks

session_key = pytest.StashKey["RunbookSession"]()


class RunbookSession(StepSelection, StepHooks, Interrupts, Closing):
    """Hooks and state of one runbook run (registered only with --inventory)."""

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.stop_on_signals()
        # Before --lf reads the journal: the cluster may hold a newer one (another
        # controller's run), or two campaigns that must not be mixed.
        if session.config.option.collectonly:
            return
        try:
            note = self.on_cluster.reconcile()
        except clusterjournal.CampaignConflict as exc:
            raise pytest.UsageError(str(exc)) from None
        if note:
            self.recorder.event("journal-from-cluster", note=note)
            self._tell(note)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self.on_cluster.finish()  # the journal's last copy; the lock released

"""Which steps run: in step order, the upgrade or the rollback (never both), and with
`--lf` only what has not passed in the current campaign; the header and collection
lines that announce it.
"""

from __future__ import annotations

import pytest
from pytest_dependency import DependencyManager

from oneupgrade.opennebula import campaign
from oneupgrade.plugin.items import step_id, step_of
from oneupgrade.plugin.state import RunbookState


class StepSelection(RunbookState):
    """The collection hooks of a runbook run (see the module doc)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        steps = [step_of(i) for i in items]
        numbers = [s[0] for s in steps if s is not None]
        if numbers != sorted(numbers):
            raise pytest.UsageError(
                "runbook steps must run in step order; do not reorder them (no --ff/--nf/-p random)"
            )
        kinds = {
            "rollback" if i.get_closest_marker("rollback") else "upgrade"
            for i, s in zip(items, steps, strict=True)
            if s is not None
        }
        if len(kinds) > 1:
            raise pytest.UsageError("runbook/ and rollback/ run one at a time: give one of them")
        self.cluster.procedure = kinds.pop() if kinds else "upgrade"
        # a rollback refused in its preflight changed nothing: the upgrade stays current
        if self.journal.give_way(unless=self.cluster.procedure):
            self.recorder.event("campaign-given-way", procedure=self.cluster.procedure)
        if self.resume:
            self._select_for_resume(config, items)

    def _select_for_resume(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """--lf: deselect what passed in this campaign; it counts as satisfied."""
        if not campaign.in_progress(self.cluster):
            self.resume_note = "no unfinished campaign in the journal: every step runs"
            return
        passed = self.journal.passed_steps()
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (drop if step_of(item) is not None and step_id(item) in passed else keep).append(item)
        for item in drop:
            self.satisfied[step_id(item)] = passed[step_id(item)]
            _satisfy_dependency(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        runs = sorted(set(self.satisfied.values()))
        campaign_id = (self.journal.campaign or {}).get("id", "?")
        self.resume_note = (
            f"resuming campaign {campaign_id}: {len(drop)} step(s) satisfied by "
            f"earlier run(s) {', '.join(runs) or '-'}; {len(keep)} to run"
        )
        self.recorder.event("resume", satisfied=self.satisfied)

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        if not self.resume:
            return []
        lines = [self.resume_note]
        if config.getoption("verbose") > 0:
            lines += [f"  satisfied by run {run}: {sid}" for sid, run in self.satisfied.items()]
        return lines

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        inv = self.inventory
        mode = " (DRY RUN: nothing will be changed)" if self.dry_run else ""
        lines = [
            f"oneupgrade: cluster {inv.cluster}, zone {inv.zone}, target {inv.target}{mode}",
            f"inventory: {inv.path} (sha256 {inv.sha256[:16]}...), "
            f"{len(inv.frontends)} front-end(s), {len(inv.hypervisors)} hypervisor(s)",
            f"report: {self.html_path}",
        ]
        if self.journal.set_aside is not None:
            lines.append(
                f"journal: the unreadable journal was set aside as {self.journal.set_aside} "
                "(--new-campaign): a new campaign begins"
            )
        return lines


class _Passed:
    """A phase report as pytest-dependency reads it (`when`, `outcome`)."""

    def __init__(self, when: str) -> None:
        self.when = when
        self.outcome = "passed"


def _satisfy_dependency(item: pytest.Item) -> None:
    """Register a step that passed in an earlier run as passed in this session.

    pytest-dependency keeps results in memory only: without this, a rerun step
    whose dependencies were deselected would be skipped as "unknown".
    """
    marker = item.get_closest_marker("dependency")
    if marker is None:
        return
    name = marker.kwargs.get("name")
    manager = DependencyManager.getManager(item, scope="session")
    if manager is not None:
        for when in ("setup", "call", "teardown"):
            manager.addResult(item, name, _Passed(when))

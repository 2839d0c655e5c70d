"""What the runbook reads of a pytest item: its step, its id in the journal, its node."""

from __future__ import annotations

import pytest


def step_of(item: pytest.Item) -> tuple[int, str] | None:
    marker = item.get_closest_marker("step")
    if marker is None:
        return None
    return int(marker.args[0]), str(marker.args[1])


def step_id(item: pytest.Item) -> str:
    """A stable id for the journal: module file name and test name with its node."""
    return f"{item.path.stem}::{item.name}"


def node_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for key in ("frontend", "hypervisor"):
        if key in callspec.params:
            return str(callspec.params[key])
    return None

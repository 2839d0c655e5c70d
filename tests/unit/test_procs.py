"""Stopping a lab's processes (onelab.procs) when the kernel hands a freed mount namespace's
id to another lab's node at once: that node is not the stopping lab's to signal."""

from __future__ import annotations

import pytest

from onelab import procs

OURS = "upperdir=/labs/a/nodes/"
THEIRS = "upperdir=/labs/b/nodes/"


def test_a_reused_namespace_id_of_another_lab_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # /proc as the stopping lab sees it, one view per poll: its node (pids 100, 101) ends
    # after the first signal, and another lab's node (pid 200) starts with the same id
    views = [{"mnt:[7]": [100, 101]}, {"mnt:[7]": [200]}]
    mounts = {100: OURS + "fe1/upper/", 101: OURS + "fe1/upper/", 200: THEIRS + "fe1/upper/"}
    signalled: list[int] = []

    def by_namespace() -> dict[str, list[int]]:
        return views.pop(0) if len(views) > 1 else views[0]

    monkeypatch.setattr(procs, "all_by_namespace", by_namespace)
    monkeypatch.setattr(procs, "mnt_ns", lambda pid: "mnt:[7]" if pid in (100, 101) else None)
    monkeypatch.setattr(procs, "mountinfo", lambda pid: mounts[int(pid)])
    monkeypatch.setattr(procs, "_signal", lambda pids, sig: signalled.extend(pids))
    monkeypatch.setattr(procs, "reap", lambda pids: None)

    assert procs.stop_namespaces(OURS, first=[100], timeout=1.0) == 1
    assert 200 not in signalled
    assert {100, 101} <= set(signalled)


def test_a_namespace_that_is_still_the_labs_is_signalled_until_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a node session forked a child (102) during the stop: same namespace, still the lab's
    views = [{"mnt:[7]": [100, 101]}, {"mnt:[7]": [101, 102]}, {}]
    signalled: list[int] = []

    def by_namespace() -> dict[str, list[int]]:
        return views.pop(0) if len(views) > 1 else views[0]

    monkeypatch.setattr(procs, "all_by_namespace", by_namespace)
    monkeypatch.setattr(procs, "mnt_ns", lambda pid: "mnt:[7]")
    monkeypatch.setattr(procs, "mountinfo", lambda pid: OURS + "fe1/upper/")
    monkeypatch.setattr(procs, "_signal", lambda pids, sig: signalled.extend(pids))
    monkeypatch.setattr(procs, "reap", lambda pids: None)

    assert procs.stop_namespaces(OURS, first=[100], timeout=1.0) == 1
    assert {100, 101, 102} <= set(signalled)

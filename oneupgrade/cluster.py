"""The cluster under upgrade: its nodes, the journal of the campaign, the worker pool.

Plain Python (no pytest): the plugin builds one `Cluster` per run and the runbook
steps receive it through the `cluster` fixture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from oneupgrade import releases
from oneupgrade.audit.journal import Journal
from oneupgrade.errors import NodesFailed, PreconditionFailed
from oneupgrade.inventory.model import Host, Inventory
from oneupgrade.transport.node import Node

T = TypeVar("T")


@dataclass
class Cluster:
    inventory: Inventory
    nodes: dict[str, Node]
    journal: Journal
    run_id: str
    forks: int = 10
    dry_run: bool = False
    # seconds: how long step 1 waits for transient VMs, step 8 for a healthy zone
    vm_timeout: float = 900.0
    health_timeout: float = 300.0
    hypervisor_selection: tuple[str, ...] | None = None
    # --overlap-followers: the followers' step 5 work runs during the leader's step 4
    overlap_followers: bool = False
    # "upgrade" (runbook/) or "rollback" (rollback/): which campaigns this run continues
    procedure: str = "upgrade"
    # rollback: the dump time the operator accepts losing the changes since (--accept-loss-since)
    accept_loss_since: str | None = None
    # what preflight observed in this run (node -> facts); never persisted
    observed: dict[str, Any] = field(default_factory=dict)
    # where `say` sends its notes (the plugin puts them in the report row)
    on_note: Callable[[str], None] | None = field(default=None, repr=False)
    # where `keep_secret` sends a secret read from the cluster (the plugin's redactor)
    on_secret: Callable[[str], None] | None = field(default=None, repr=False)
    # fan-out progress: (kind "start"|"done"|"failed", node, finished, total); see progress.py
    on_progress: Callable[[str, str, int, int], None] | None = field(default=None, repr=False)
    # builds the Node of a hypervisor read from OpenNebula (`hypervisors: discover`)
    node_factory: Callable[[Host], Node] | None = field(default=None, repr=False)
    # set by `interrupt`; every node's commands check it before they start
    halt: threading.Event = field(default_factory=threading.Event, repr=False)
    # the recorder's attribution of the running step, carried into background work
    attribution: Callable[[], AbstractContextManager[None]] | None = field(default=None, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    # background work by lane ("downloads", "followers"): one lane never queues behind another
    _background: dict[str, ThreadPoolExecutor] = field(default_factory=dict, init=False, repr=False)
    _pending: dict[str, Future[Any]] = field(default_factory=dict, init=False, repr=False)

    def add_discovered(self, found: list[dict[str, str]]) -> list[Node]:
        """Nodes for hypervisors OpenNebula knows of: `{name, address, hypervisor}` each.

        They are reached like the inventory's nodes (its ssh settings and ssh config);
        an OpenNebula host name is usually what the operator's DNS or ssh config knows.
        """
        assert self.node_factory is not None
        added = []
        for entry in found:
            if entry["name"] in self.nodes:
                continue
            settings = self.inventory.ssh
            host = Host(
                entry["name"],
                entry["address"],
                settings.port,
                settings.user,
                "hypervisor",
                entry["hypervisor"],
                port_given=False,
                user_given=False,
            )
            self.nodes[host.name] = self.node_factory(host)
            added.append(self.nodes[host.name])
        return added

    def say(self, message: str) -> None:
        """A note for the report row of the running step ("already done: ...")."""
        if self.on_note is not None:
            self.on_note(message)

    def keep_secret(self, value: str) -> None:
        """Mask `value` in everything recorded from now on (a password read from a node)."""
        if self.on_secret is not None:
            self.on_secret(value)

    @property
    def name(self) -> str:
        return self.inventory.cluster

    @property
    def target(self) -> str:
        return self.inventory.target

    @property
    def target_release(self) -> str:
        return releases.resolve(self.target)

    @property
    def frontends(self) -> list[Node]:
        return [self.nodes[h.name] for h in self.inventory.frontends]

    @property
    def hypervisors(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "hypervisor"]

    @property
    def leader(self) -> Node:
        name = self.journal.fact("leader")
        if name is None:
            raise PreconditionFailed("the leader is not known yet: preflight (step 0) finds it")
        return self.nodes[name]

    @property
    def followers(self) -> list[Node]:
        leader = self.leader
        return [n for n in self.frontends if n is not leader]

    @property
    def source(self) -> str:
        source: str | None = self.journal.fact("source_release")
        if source is None:
            raise PreconditionFailed("the source release is not known yet: preflight finds it")
        return source

    @property
    def control_plane_done(self) -> bool:
        """Every front-end is at the target and the zone was healthy on it (step 8)."""
        return bool(self.journal.fact("control_plane_done"))

    def fan_out(self, nodes: Iterable[Node], work: Callable[[Node], T]) -> dict[str, T]:
        """Run `work` on every node, at most `forks` at a time; all failures are reported."""
        nodes = list(nodes)
        if len(nodes) <= 1:
            pairs = []
            failures: dict[str, BaseException] = {}
            for node in nodes:
                try:
                    pairs.append((node.name, work(node)))
                except Exception as exc:
                    failures[node.name] = exc
            if failures:
                raise NodesFailed(failures, [])
            return dict(pairs)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.forks))
        tracked = self._tracked(work, len(nodes))
        futures = {node.name: self._pool.submit(tracked, node) for node in nodes}
        results: dict[str, T] = {}
        failures = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:
                failures[name] = exc
        if failures:
            raise NodesFailed(failures, list(results))
        return results

    def outcomes(
        self, nodes: Iterable[Node], work: Callable[[Node], T]
    ) -> dict[str, T | Exception]:
        """`fan_out` that fails no one: each node's result, or the exception that is its
        failure only (the caller decides what the others do)."""

        def guarded(node: Node) -> T | Exception:
            try:
                return work(node)
            except Exception as exc:
                return exc

        return self.fan_out(nodes, guarded)

    def look_once(
        self, key: str, nodes: Iterable[Node], look: Callable[[Node], T]
    ) -> dict[str, T | Exception]:
        """`look` at every node at once (at most `forks` at a time), once per run: each of a
        step's per-node checks takes its node's answer, an exception being that node's
        failure only. One after another, hundreds of nodes would cost as many round trips."""
        seen: dict[str, T | Exception] | None = self.observed.get(key)
        if seen is None:
            seen = self.observed[key] = self.outcomes(nodes, look)
        return seen

    def _tracked(self, work: Callable[[Node], T], total: int) -> Callable[[Node], T]:
        """`work` reporting its start and end to `on_progress` (when set)."""
        report = self.on_progress
        if report is None:
            return work
        lock, finished = threading.Lock(), [0]

        def run(node: Node) -> T:
            with lock:
                report("start", node.name, finished[0], total)
            kind = "failed"
            try:
                result = work(node)
                kind = "done"
                return result
            finally:
                with lock:
                    finished[0] += 1
                    count = finished[0]
                report(kind, node.name, count, total)

        return run

    def background(
        self, nodes: Iterable[Node], work: Callable[[Node], Any], *, lane: str = "downloads"
    ) -> list[str]:
        """Start `work` on each node (at most `forks` at a time in its `lane`) and return
        at once; `wait_background(node)` gives its outcome later. Its commands stay the
        running step's in the audit log. Returns the nodes started."""
        pool = self._background.get(lane)
        if pool is None:
            pool = self._background[lane] = ThreadPoolExecutor(
                self.forks, thread_name_prefix=f"oneupgrade-{lane}"
            )
        started = []
        for node in nodes:
            carried = self.attribution() if self.attribution is not None else nullcontext()

            def run(node: Node = node, carried: AbstractContextManager[None] = carried) -> Any:
                with carried:
                    return work(node)

            self._pending[node.name] = pool.submit(run)
            started.append(node.name)
        return started

    def wait_background(self, node: Node) -> tuple[bool, Any]:
        """(False, None) when no background work was started on `node` in this run; else
        (True, its result) once it ends; raises what it raised."""
        future = self._pending.pop(node.name, None)
        if future is None:
            return False, None
        return True, future.result()

    def interrupt(self) -> dict[str, str]:
        """Ctrl-C: no command starts from now on and node work not yet begun is dropped.

        Returns the commands still executing, by node: each runs to its end on its node
        whatever this side does (see `settle`)."""
        self.halt.set()
        for pool in [self._pool, *self._background.values()]:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        return {n.name: n.running for n in self.nodes.values() if n.running is not None}

    def settle(self) -> None:
        """After `interrupt`: wait for the commands still executing, so that the report
        and the audit log have their outcome. A second Ctrl-C stops waiting: the
        connections are closed, which ends the commands' channels (not the commands)."""
        pools = [p for p in [self._pool, *self._background.values()] if p is not None]
        try:
            for pool in pools:
                pool.shutdown(wait=True)
        except KeyboardInterrupt:
            for node in self.nodes.values():
                node.close()
            for pool in pools:
                pool.shutdown(wait=True)

    def close(self) -> None:
        for pool in self._background.values():
            # a run that stopped before the work was waited for: what has not begun never
            # will; what runs is left to end, so that its outcome is in the audit log
            pool.shutdown(wait=True, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for node in self.nodes.values():
            node.close()

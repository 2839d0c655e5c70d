"""Every command of a run, as the audit log and the HTML report need it.

Commands arrive from the SSH layer, from any worker thread, while a step runs. The
recorder files each one under the step and the phase it belongs to (for the
report's rows) and appends it, redacted, to the JSONL audit log at once (so a
killed run leaves its record). No pytest here: the plugin passes items in and
takes records out.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oneupgrade.audit.log import AuditLog
from oneupgrade.audit.redact import Redactor
from oneupgrade.inventory.model import Inventory
from oneupgrade.result import CommandResult


@dataclass(frozen=True)
class Record:
    """One command as shown in the report (already redacted)."""

    item: str
    step: int | None
    node: str
    command: str
    exit_status: int
    started: float
    duration: float
    stdout: str
    stderr: str
    error: str | None
    mutating: bool
    planned: bool


class Recorder:
    def __init__(
        self, path: Path, run_id: str, inventory: Inventory, become_password: str | None = None
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.inventory = inventory
        self.become_password: str | None = become_password
        env = inventory.ssh.become_password_env
        if env and become_password is None:
            self.become_password = os.environ.get(env)
        secrets = [*inventory.secrets, *([self.become_password] if self.become_password else [])]
        self.redactor = Redactor(secrets, inventory.redact)
        self.audit = AuditLog(path, run_id, self.redactor)
        self._lock = threading.Lock()
        # (item, step, name) of work carried on in a background thread (see `attributed`)
        self._local = threading.local()
        self._item: str | None = None
        self._step: int | None = None
        self._step_name = ""
        self._phase: list[Record] = []
        self._notes: list[str] = []
        self._by_step: dict[int | None, list[Record]] = {}
        self.all: list[Record] = []
        self.audit.event(
            "run-start",
            cluster=inventory.cluster,
            inventory=str(inventory.path),
            inventory_sha256=inventory.sha256,
            target=inventory.target,
        )

    # -- context ---------------------------------------------------------------------

    def begin(self, item: str, step: int | None, name: str) -> None:
        """Commands from now on belong to test `item` (a node id) of step `step`."""
        with self._lock:
            self._item = item
            self._step = step
            self._step_name = name

    def context(self) -> tuple[str | None, int | None, str]:
        """Whose commands these are now: (item, step, step name)."""
        with self._lock:
            return self._item, self._step, self._step_name

    @contextmanager
    def attributed(self, context: tuple[str | None, int | None, str]) -> Iterator[None]:
        """In this thread, commands belong to `context` (a step that started background
        work and has ended since): in its step and the audit log, in no later row."""
        self._local.context = context
        try:
            yield
        finally:
            self._local.context = None

    def command(self, result: CommandResult, error: str | None) -> None:
        redact = self.redactor.redact
        carried = getattr(self._local, "context", None)
        with self._lock:
            item, step, name = carried or (self._item, self._step, self._step_name)
        record = Record(
            item=item or "",
            step=step,
            node=result.node,
            command=redact(result.command),
            exit_status=result.exit_status,
            started=result.started,
            duration=result.duration,
            stdout=redact(result.stdout),
            stderr=redact(result.stderr),
            error=error,
            mutating=result.mutating,
            planned=result.planned,
        )
        with self._lock:
            if carried is None:  # background work belongs to no row of the running step
                self._phase.append(record)
            self._by_step.setdefault(step, []).append(record)
            self.all.append(record)
        self.audit.command(
            f"{step:02d}:{name}" if step is not None else "-",
            result.node,
            result.command,
            result.exit_status,
            result.started,
            result.duration,
            result.stdout,
            result.stderr,
            mutating=result.mutating,
            planned=result.planned,
            error=error,
        )

    def note(self, text: str) -> None:
        """A sentence from the step itself ("already done: ..."), for its report row."""
        with self._lock:
            self._notes.append(self.redactor.redact(text))
            item = self._item
        self.audit.event("note", item=item, text=text)

    def take_notes(self) -> list[str]:
        with self._lock:
            taken, self._notes = self._notes, []
        return taken

    def take_phase(self) -> list[Record]:
        """The commands since the last call: those of the phase that just ended."""
        with self._lock:
            taken, self._phase = self._phase, []
        return taken

    def step_commands(self, step: int | None, node: str | None) -> list[Record]:
        """Commands of one step on one node, whichever test of the step ran them."""
        with self._lock:
            return [r for r in self._by_step.get(step, []) if node is None or r.node == node]

    # -- outcomes --------------------------------------------------------------------

    def step_outcome(self, item: str, outcome: str, reason: str, duration: float) -> None:
        self.audit.step(item, None, outcome, time.time() - duration, duration, reason)

    def halted(self, message: str) -> None:
        self.audit.event("halted", reason=message)

    def event(self, kind: str, **fields: Any) -> None:
        self.audit.event(kind, **fields)

    def finish(self, exitstatus: int) -> None:
        self.audit.event("run-end", exit_status=int(exitstatus))

    def mutating_executed(self) -> list[Record]:
        return [r for r in self.all if r.mutating and not r.planned]

    def summary_lines(self) -> list[str]:
        executed = self.mutating_executed()
        planned = [r for r in self.all if r.planned]
        lines = [f"commands: {len(self.all)} run, {len(executed)} of them changing a node"]
        if planned:
            lines.append(f"dry run: {len(planned)} changing command(s) planned, none executed")
        return lines

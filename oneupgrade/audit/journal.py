"""The per-cluster journal: what each step did, when, and the facts later steps need.

A campaign is one upgrade of one cluster from one release to a target. The journal
(reports/<cluster>/journal.json) holds the current campaign: per step and node the
outcome and times, the facts (leader, backups and their sha256, units that were
active, hosts that were enabled, SERVER_IDs), and the runs that took part. It is
rewritten atomically (write to a temporary file, fsync, rename) after every step,
so a run killed at any point leaves a journal that the next run can use.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneupgrade.audit.journal_format import encode, shape_problem
from oneupgrade.errors import RunbookError


class JournalUnreadable(RunbookError):
    """The campaign's journal exists but cannot be read: refused, never a fresh start."""


@dataclass
class Journal:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    # A dry run reads the journal but never writes it: a plan changes nothing.
    persist: bool = True
    # Saves kept in memory until `flush`: a run writes its journal only once it holds
    # the cluster lock (clusterlock.py), so a refused run forks no copy of the campaign.
    deferred: bool = False
    # where an unreadable journal was put by --new-campaign (None: nothing set aside)
    set_aside: Path | None = None
    # where the controller keeps its copies of the backups (--backup-dir; None: beside
    # the journal's report directory, safekeeping.store_of)
    backup_dir: Path | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def load(cls, path: Path, *, new_campaign: bool = False, dry_run: bool = False) -> Journal:
        """The journal at `path` (empty when there is none).

        A journal that exists and cannot be read is refused: mid-campaign it is the only
        record of which hosts were enabled and which units ran, and a fresh start would
        forget them. With `new_campaign` it is set aside (renamed, never deleted) and an
        empty journal begins; `set_aside` names where it went (a dry run plans with an
        empty journal and leaves the file where it is)."""
        try:
            data = json.loads(path.read_text())
            why = shape_problem(data)
        except FileNotFoundError:
            return cls(path, {})
        except OSError as exc:
            why = exc.strerror or str(exc)
        except ValueError as exc:  # (UnicodeDecodeError included)
            why = f"not valid JSON: {exc}"
        if not why:
            return cls(path, data)
        if not new_campaign:
            raise JournalUnreadable(
                f"the campaign journal {path} cannot be read ({why}): restore it from a "
                "backup and run again, or run with --new-campaign to set it aside and start "
                "a new campaign (what it recorded, such as the hosts that were enabled, is "
                "then not used)"
            )
        journal = cls(path, {}, persist=not dry_run)
        if not dry_run:
            journal.set_aside = path.with_suffix(f".unreadable-{int(time.time())}.json")
            path.rename(journal.set_aside)
        return journal

    # -- campaign ------------------------------------------------------------------

    @property
    def campaign(self) -> dict[str, Any] | None:
        campaign: dict[str, Any] | None = self.data.get("campaign")
        return campaign

    def start_campaign(
        self, cluster: str, source: str, target: str, run_id: str, kind: str = "upgrade"
    ) -> None:
        """A new campaign ("upgrade", or "rollback" of one); the current one goes to history."""
        with self._lock:
            previous = self.data.get("campaign")
            if previous is not None:
                self.data.setdefault("history", []).append(previous)
            self.data["campaign"] = {
                "id": run_id,
                "kind": kind,
                "cluster": cluster,
                "source": source,
                "target": target,
                "started": time.time(),
                "completed": None,
                "runs": [],
                "steps": {},
                # what preflight read before it knew the campaign belongs to it
                "facts": self.data.pop("facts-without-campaign", {}),
            }
            self.save()

    def give_way(self, unless: str) -> bool:
        """A current campaign of another kind than `unless` that changed nothing (a
        rollback refused in its preflight) gives way to the campaign before it."""
        with self._lock:
            current = self.campaign
            history = self.data.get("history") or []
            if current is None or current.get("changed") or not history:
                return False
            if current.get("kind", "upgrade") == unless:
                return False
            self.data["campaign"] = history.pop()
            self.save()
            return True

    def add_run(self, run_id: str, dry_run: bool) -> None:
        with self._lock:
            assert self.campaign is not None
            self.campaign["runs"].append({"id": run_id, "started": time.time(), "dry_run": dry_run})
            self.save()

    def mark_changed(self) -> None:
        """The campaign changed a node: from now on the cluster may be half upgraded."""
        with self._lock:
            if self.campaign is not None and not self.campaign.get("changed"):
                self.campaign["changed"] = time.time()
                self.save()

    def complete_campaign(self) -> None:
        with self._lock:
            if self.campaign is not None:
                self.campaign["completed"] = time.time()
                self.save()

    # -- facts ---------------------------------------------------------------------

    @property
    def facts(self) -> dict[str, Any]:
        if self.campaign is None:
            loose: dict[str, Any] = self.data.setdefault("facts-without-campaign", {})
            return loose
        facts: dict[str, Any] = self.campaign["facts"]
        return facts

    def fact(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self.facts.get(key, default)

    def remember(self, key: str, value: Any) -> None:
        """Record a fact and save at once: a fact is what a later run relies on."""
        with self._lock:
            self.facts[key] = value
            self.save()

    def remember_all(self, facts: dict[str, Any]) -> None:
        """Record several facts with one save (one per node of hundreds)."""
        with self._lock:
            self.facts.update(facts)
            if facts:
                self.save()

    def remember_once(self, key: str, value: Any) -> Any:
        """Record a fact unless the campaign already holds it; return the kept value.

        Facts observed before a change (which hosts were enabled, which units were
        active) must survive reruns, which observe the changed state.
        """
        with self._lock:
            if key not in self.facts:
                self.facts[key] = value
                self.save()
            return self.facts[key]

    # -- steps ---------------------------------------------------------------------

    def record_step(
        self,
        step_id: str,
        outcome: str,
        run_id: str,
        started: float,
        duration: float,
        reason: str = "",
    ) -> None:
        with self._lock:
            if self.campaign is None:
                return
            self.campaign["steps"][step_id] = {
                "outcome": outcome,
                "run": run_id,
                "started": started,
                "duration": duration,
                "reason": reason,
            }
            self.save()

    def step(self, step_id: str) -> dict[str, Any] | None:
        if self.campaign is None:
            return None
        entry: dict[str, Any] | None = self.campaign["steps"].get(step_id)
        return entry

    def passed_steps(self) -> dict[str, str]:
        """step id -> id of the run in which it passed, in the current campaign."""
        if self.campaign is None:
            return {}
        return {
            sid: entry["run"]
            for sid, entry in self.campaign["steps"].items()
            if entry["outcome"] == "passed"
        }

    def adopt(self, data: dict[str, Any], *, keep_aside: bool = False) -> None:
        """Take another copy of the campaign's journal (the cluster's) as this one; with
        `keep_aside` the file it replaces is renamed, never deleted."""
        with self._lock:
            if keep_aside and self.persist and self.path.exists():
                self.set_aside = self.path.with_suffix(f".replaced-{int(time.time())}.json")
                self.path.rename(self.set_aside)
            self.data = {k: v for k, v in data.items() if k != "written_by"}
            if self.persist:
                self._write()  # the copy as it is: its number is the cluster's

    def bump_seq(self, above: int) -> None:
        """Number this journal past `above` (a copy it is written over)."""
        with self._lock:
            self.data["seq"] = max(int(self.data.get("seq") or 0), above)
            self.save()

    def snapshot(self, **extra: Any) -> str:
        """The journal as saved, with `extra` keys, read whole under the lock."""
        with self._lock:
            return encode({**self.data, **extra})

    @property
    def seq(self) -> int:
        return int(self.data.get("seq") or 0)

    def flush(self) -> None:
        """Write what deferred saves kept in memory, and save at once from now on."""
        with self._lock:
            self.deferred = False
            self.save()

    def save(self) -> None:
        if not self.persist:
            return
        with self._lock:
            # every save is numbered: the cluster's copies are ordered by it
            self.data["seq"] = self.seq + 1
            if not self.deferred:
                self._write()

    def _write(self) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".journal-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(encode(self.data))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

"""Which process holds each lab on this machine, so that a lab whose holder was killed
(SIGKILL, the OOM killer, a CI job cut off) is found and taken down by the next run.

Lab.up records its directory and its holder (the process that built it, by pid and
start time, so that a reused pid never passes for it) in HOLDERS, a runtime directory
(gone at a reboot, as the labs are); `down` removes the record. A lab started from the
command line (`python -m onelab up`) has no holder: it is the user's until `down`.
`orphans` lists the labs whose holder is gone; `sweep` takes each down by the process
ids and namespaces it recorded (nodes.stop_all), never by a process name.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

HOLDERS = Path("/run/onelab/holders")


def _record(lab_dir: Path) -> Path:
    return HOLDERS / (hashlib.sha256(str(lab_dir.resolve()).encode()).hexdigest()[:16] + ".json")


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def hold(lab_dir: Path) -> None:
    """Record this process as the holder of the lab in `lab_dir`."""
    _write(lab_dir, os.getpid())


def keep(lab_dir: Path) -> None:
    """Record the lab in `lab_dir` as held by nobody: the user's, until `down`."""
    _write(lab_dir, None)


def _write(lab_dir: Path, pid: int | None) -> None:
    HOLDERS.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {"dir": str(lab_dir.resolve()), "pid": pid,
              "start": start_time(pid) if pid is not None else None}  # fmt: skip
    path = _record(lab_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def release(lab_dir: Path) -> None:
    _record(lab_dir).unlink(missing_ok=True)


def orphans() -> list[tuple[Path, int]]:
    """(directory, holder pid) of every lab whose holder no longer runs."""
    found: list[tuple[Path, int]] = []
    for path in sorted(HOLDERS.glob("*.json")) if HOLDERS.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid = record.get("pid")
        if pid is None:
            continue
        if start_time(int(pid)) != record.get("start"):
            found.append((Path(record["dir"]), int(pid)))
    return found


def sweep(down: Callable[[Path], int], say: Callable[[str], None] = print) -> list[Path]:
    """Take down every lab whose holder is gone; the directories it took down."""
    swept: list[Path] = []
    for lab_dir, pid in orphans():
        count = down(lab_dir)
        release(lab_dir)
        say(f"onelab: took down {count} node(s) of {lab_dir}, left behind by process {pid}")
        swept.append(lab_dir)
    return swept

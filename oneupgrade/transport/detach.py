"""Commands that outlive the controller: a package transaction killed half way leaves
dpkg or rpm broken, with the control plane down.

Closing an SSH channel (the controller killed, its laptop gone) sends no signal, but the
command's next write to the closed pipe kills it: apt-get dies in the middle of dpkg. A
detached command runs instead in a session of its own (`setsid`), its stdin, stdout and
stderr files in a job directory on the node (`JOBS/<id>/`, root only), its exit status
written there when it ends; the channel only waits for that file and prints what the
job printed, exactly as the command would have. When the channel is gone the job goes
on to its end, as an operator's command in tmux would, and the next run finds it by its
directory. The waiter never removes the directory (a waiter orphaned by a dead
controller would take the exit status with it): the controller does once it has read
the result (`removal`). The next run's `listing` shows, under `running`, the jobs still
alive (their pid, checked against the job's own command line, so a reused pid is never
taken for one), under `finished` those whose reader died before removing them.
"""

from __future__ import annotations

import shlex

JOBS = "/var/lib/oneupgrade/jobs"
POLL = 0.1  # seconds between the waiter's looks at the exit status file

# $1 the command, $2 the job directory; $0 names the process (`ps` shows oneupgrade-job).
_JOB = 'sh -c "$1" >"$2/out" 2>"$2/err" </dev/null; echo $? >"$2/rc.part"; mv "$2/rc.part" "$2/rc"'


def detached(command: str, job: str, deadline: float, jobs: str = JOBS) -> str:
    """The shell text that runs `command` as job `job` (bounded by `deadline` seconds on
    the node) and waits for it: its stdout, stderr and exit status are the command's."""
    d = shlex.quote(f"{jobs}/{job}")
    bounded = f"timeout -k 5 {deadline:g} sh -c {shlex.quote(command)}"
    return (
        f"umask 077; mkdir -p {shlex.quote(jobs)} && mkdir {d} || exit 125; "
        f"printf '%s\\n' {shlex.quote(command)} >{d}/command; "
        f"setsid sh -c {shlex.quote(_JOB)} oneupgrade-job {shlex.quote(bounded)} {d} "
        f"</dev/null >/dev/null 2>&1 & echo $! >{d}/pid; "
        f"while [ ! -e {d}/rc ]; do sleep {POLL:g}; done; "
        f"cat {d}/out; cat {d}/err >&2; exit $(cat {d}/rc)"
    )


def removal(job: str, jobs: str = JOBS) -> str:
    """The shell text removing job `job`'s directory once its result has been read."""
    return f"rm -rf {shlex.quote(f'{jobs}/{job}')}"


def listing(jobs: str = JOBS) -> str:
    """Shell text printing two lines per job directory: `running ID PID` or `finished ID
    RC` (`lost` when its runner died before writing it), then the job's command."""
    q = shlex.quote(jobs)
    return (
        f'[ -d {q} ] || exit 0; for d in {q}/*/; do [ -d "$d" ] || continue; d=${{d%/}}; '
        'id=$(basename "$d"); if [ -e "$d/rc" ]; then echo "finished $id $(cat "$d/rc")"; '
        'sed -n 1p "$d/command"; continue; fi; p=$(cat "$d/pid" 2>/dev/null); '
        'if [ -n "$p" ] && tr "\\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$d"; '
        'then echo "running $id $p"; else echo "finished $id lost"; fi; '
        'sed -n 1p "$d/command"; done'
    )


def parse_list(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(running: [(id, command)], finished: [(id, exit status or "lost", command)])."""
    lines = text.splitlines()
    running: list[tuple[str, str]] = []
    finished: list[tuple[str, str, str]] = []
    for head, command in zip(lines[::2], lines[1::2], strict=False):
        parts = head.split()
        if len(parts) != 3:
            continue
        if parts[0] == "running":
            running.append((parts[1], command))
        elif parts[0] == "finished":
            finished.append((parts[1], parts[2], command))
    return running, finished

"""What the operator's terminal shows while a fan-out runs: on a terminal (a real pty)
one status line rewritten in place; elsewhere plain lines, never between pytest's dots."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

from onelab import Lab
from onelab.invoke import ROOT, runbook_argv
from tests.e2e.conftest import LabFactory

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _on_a_terminal(lab: Lab, report_dir: Path, columns: int, *args: str) -> tuple[int, str]:
    """The runbook with a pseudo-terminal `columns` wide as its stdout; what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    argv = runbook_argv(lab.inventory_path, "--report-dir", str(report_dir), *args)
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env={**env, "TERM": "xterm"}
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child's side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=600), ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_on_a_terminal_a_status_line_is_rewritten_in_place_then_summarised(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=1, hypervisors=2, latencies={"apt-get install": 2.5})
    status, screen = _on_a_terminal(lab, report_dir, 100, "-x", "-p", "no:randomly")
    assert status == 0, screen[-3000:]
    lines = screen.replace("\r\n", "\n").split("\n")
    # the hypervisors' upgrade: one line on the screen for the whole fan-out...
    (upgrade,) = [ln for ln in lines if "step 9:" in ln and "apt-get install" in ln]
    drawn = [d.strip() for d in upgrade.split("\r") if d.strip()]
    assert len(drawn) >= 4, drawn  # ...drawn again and again while the nodes worked
    # a node's command and its clock, going up while it runs
    working = [d for d in drawn if d.startswith("step 9: 0/2 done |")]
    clocks = [
        int(m) for d in working for m in re.findall(r"hv1 apt-get install \S* [^|]*?(\d+)s", d)
    ]
    assert len(set(clocks)) >= 2, working
    assert clocks == sorted(clocks), working
    # the last drawing is the summary, and no drawing was wider than the terminal
    assert re.fullmatch(r"step 9: 2/2 done, [\d.]+ s; slowest hv\d [\d.]+ s", drawn[-1]), drawn
    ours = [d for line in lines for d in line.split("\r") if d.startswith("  step ")]
    assert all(len(d) < 100 for d in ours), [d for d in ours if len(d) >= 100]
    # pytest's own output goes on below it: the module's path, then its dots
    after = lines[lines.index(upgrade) + 1]
    assert re.match(r"runbook/test_09_\S+ \.", after), after


def test_a_narrow_terminal_and_quiet_output_keep_the_line_within_the_width(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=2, hypervisors=2, latencies={"apt-get install": 1.0})
    status, screen = _on_a_terminal(lab, report_dir, 44, "-q", "-p", "no:randomly")
    assert status == 0, screen[-3000:]
    drawn = [d for line in screen.replace("\r\n", "\n").split("\n") for d in line.split("\r")]
    steps = [d for d in drawn if d.startswith("  step ")]
    assert any(d.startswith("  step 9: 2/2 done") for d in steps), steps
    assert all(len(d) < 44 for d in steps), [d for d in steps if len(d) >= 44]


def test_without_a_terminal_progress_lines_never_split_pytests_dots(
    make_lab: LabFactory, report_dir: Path
) -> None:
    lab = make_lab(frontends=2, hypervisors=2)
    argv = runbook_argv(lab.inventory_path, "--report-dir", str(report_dir), "-p", "no:randomly")
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    lines = run.stdout.splitlines()
    modules = [ln.split()[0] for ln in lines if ln.startswith("runbook/test_")]
    assert len(modules) == len(set(modules)), modules  # each module's dots on one line
    progress = [i for i, ln in enumerate(lines) if ln.startswith("  step ")]
    assert progress
    for i in progress:  # after a module's line (or another progress line), never mid-line
        assert lines[i - 1].startswith(("runbook/test_", "  step ")), lines[i - 1 : i + 1]
    # at most one line per node per change of state: "done", no "started" without -v
    assert not [ln for ln in lines if " started (" in ln]
    assert any(ln.startswith("  step 9: hv1 done (") for ln in lines)

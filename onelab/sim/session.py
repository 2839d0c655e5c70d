"""sshd ForceCommand: faults and latencies of non-simulated commands, then the command."""

from __future__ import annotations

import os
import sys
import time

from . import disruption, faults, paths

SFTP = "/usr/lib/openssh/sftp-server"


def main() -> int:
    cmd = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    if not cmd.strip():
        os.execv("/bin/bash", ["bash", "-l"])  # noqa: S606
        return 127  # only reached when execv is stubbed out
    if cmd.strip() == "internal-sftp" or cmd.strip().startswith(SFTP):
        os.execv(SFTP, [SFTP])  # noqa: S606
        return 127
    tokens = cmd.split()
    node = str(paths.node().get("name", ""))
    st = faults.snapshot()  # one read of the rules (faults and latencies)
    # A real-tier lab runs every command for real: every rule is the session's.
    real = os.path.exists(os.path.join(paths.shared_dir(), faults.REAL_TIER))
    rule = faults.take_fault(node, tokens, tool=None if real else False, st=st)
    if rule is not None and rule["action"] == "exit":
        sys.stderr.write(f"simulated fault: {rule['pattern']}\n")
        return int(rule["exit_code"])
    if rule is not None and rule["action"] == "hang":
        disruption.hang()
    delay = faults.latency(tokens, tool=None, st=st)
    if delay > 0:
        time.sleep(delay)
    if rule is not None and rule["action"] in ("corrupt", "drop"):
        # here, not at the top: subprocess (locale, re, enum...) costs ~10 ms, and every
        # command of a session with a fault or latency set starts here
        import subprocess

    if rule is not None and rule["action"] == "corrupt":
        # what travels in on stdin arrives with one byte changed (a transfer gone bad)
        data = bytearray(sys.stdin.buffer.read())
        if data:
            data[len(data) // 2] ^= 0x01
        return subprocess.run(["/bin/bash", "-c", cmd], input=bytes(data), check=False).returncode
    if rule is not None and rule["action"] == "drop":
        rc = subprocess.call(["/bin/bash", "-c", cmd])
        disruption.drop_connection()
        return rc
    os.execv("/bin/bash", ["bash", "-c", cmd])  # noqa: S606
    return 0  # pragma: no cover

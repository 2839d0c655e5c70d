"""Where this tool looks for unit files and keeps its own state, logs and sockets."""

from __future__ import annotations

import os

ROOT = os.environ.get("ONE_LAB_ROOT", "").rstrip("/")
SEARCH = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
STATE, LOGS, NOTIFY = "/run/one-lab/units", "/var/log/one-lab/units", "/run/one-lab/notify"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def P(path: str) -> str:
    return ROOT + path

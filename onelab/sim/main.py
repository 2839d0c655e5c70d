"""Entry point of every simulated tool: faults, latency, then the tool itself."""

from __future__ import annotations

import importlib
import sys
import time

from . import disruption, faults, paths
from .tools.common import Fail

MODULES = {
    "onezone": "onezone",
    "onehost": "onehost",
    "onevm": "onevm",
    "onevnet": "onevnet",
    "onegroup": "onegroup",
    "onedb": "onedb",
    "onecfg": "onecfg",
    "systemctl": "systemctl",
    "apt-get": "apt",
    "apt-cache": "aptcache",
    "dpkg-query": "dpkgquery",
    "dpkg": "dpkg",
    "yum": "yum",
    "dnf": "yum",
    "rpm": "rpm",
}


def run(tool: str, argv: list[str]) -> int:
    module = importlib.import_module(f".tools.{MODULES[tool]}", __package__)
    try:
        rc = module.run(tool, argv)
    except Fail as exc:
        sys.stderr.write(exc.message + "\n")
        rc = exc.code
    assert isinstance(rc, int)
    return rc


DOWNLOAD_ONLY = {"-d", "--download-only", "--downloadonly"}
PACKAGE_VERBS = {"install", "upgrade", "update"}


def command_words(tool: str, argv: list[str]) -> list[str]:
    """The words faults and latencies match: a download-only package command is a
    "download", so a fault on "apt-get install" hits the install, not the download."""
    if tool in ("apt-get", "yum", "dnf") and DOWNLOAD_ONLY & set(argv):
        argv = ["download" if word in PACKAGE_VERBS else word for word in argv]
    return [tool, *argv]


def main(tool: str, argv: list[str]) -> int:
    if tool not in MODULES:
        sys.stderr.write(f"{tool}: not simulated\n")
        return 127
    tokens = command_words(tool, argv)
    node = str(paths.node().get("name", ""))
    st = faults.snapshot()  # one read of the rules (faults and latencies)
    faults.current = st
    try:
        rule = faults.take_fault(node, tokens, tool=True, st=st)
        if rule is not None and rule["action"] == "exit":
            sys.stderr.write(f"simulated fault: {rule['pattern']}\n")
            return int(rule["exit_code"])
        if rule is not None and rule["action"] == "hang":
            disruption.hang()
        delay = faults.latency(tokens, tool=tool, st=st)
        if delay > 0:
            time.sleep(delay)
        rc = run(tool, argv)
    finally:
        faults.current = None
    sys.stdout.flush()
    if rule is not None and rule["action"] == "drop":
        disruption.drop_connection()
    return rc

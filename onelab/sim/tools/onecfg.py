"""onecfg: status, upgrade, init (its state kept in /etc/onecfg.conf)."""

from __future__ import annotations

import os
import shutil
import time

from .. import catalogue, nodestate, onedconf, paths
from .common import Fail, out

CONF = "/etc/onecfg.conf"
BACKUPS = "/var/lib/one/backups/config"


def _state() -> str:
    try:
        return paths.read_text(paths.at(CONF))
    except OSError:
        return ""


def _versions() -> tuple[str, str | None]:
    release = nodestate.frontend_release(nodestate.installed())
    if release is None:
        raise Fail("ERROR: OpenNebula is not installed")
    return release, onedconf.onecfg_version(_state())


def _steps(cfg: str, release: str) -> list[tuple[str, str]]:
    chain = [r for r in catalogue.RELEASES if catalogue.vkey(cfg) < catalogue.vkey(r)]
    chain = [r for r in chain if catalogue.vkey(r) <= catalogue.vkey(release)]
    # one step per series boundary, like the real descriptors
    stops: list[str] = []
    for r in chain:
        if stops and catalogue.series_of(stops[-1]) == catalogue.series_of(r):
            stops[-1] = r
        else:
            stops.append(r)
    steps: list[tuple[str, str]] = []
    prev = cfg
    for r in stops:
        steps.append((prev, r))
        prev = r
    return steps


def status() -> int:
    release, cfg = _versions()
    out("--- Versions ------------------------------")
    out(f"OpenNebula:  {release}")
    out(f"Config:      {cfg or 'unknown'}")
    if cfg is None:
        out("ERROR: Unknown config version")
        return 255
    if onedconf.onecfg_outdated(_state()):
        out("ERROR: Configurations metadata are outdated.")
        return 255
    out("")
    out("--- Available Configuration Updates -------")
    if catalogue.vkey(cfg) >= catalogue.vkey(release):
        out("No updates available.")
        return 0
    out(f"New config:  {release}")
    for a, b in _steps(cfg, release):
        out(f"- from {a} to {b} (YAML, Ruby)")
    return 1


def upgrade() -> int:
    release, cfg = _versions()
    if cfg is None:
        raise Fail("FATAL : FAILED - Unknown config version")
    if onedconf.onecfg_outdated(_state()):
        raise Fail(
            "FATAL : FAILED - Configuration can't be processed as it looks outdated! You "
            "must have missed to run 'onecfg update' after previous OpenNebula upgrade."
        )
    if catalogue.vkey(cfg) >= catalogue.vkey(release):
        out("ANY   : No updates available")
        return 0
    stamp = time.strftime("%Y-%m-%d_%H:%M:%S") + f"_{os.getpid()}"
    backup = paths.at(f"{BACKUPS}/{stamp}")
    os.makedirs(backup, exist_ok=True)
    for src in ("/etc/one", "/var/lib/one/remotes/etc"):
        s = paths.at(src)
        if os.path.isdir(s):
            dst = os.path.join(backup, src.strip("/").replace("/", "_"))
            shutil.copytree(s, dst, symlinks=True, dirs_exist_ok=True)
    views = paths.at("/etc/one/sunstone-views.yaml")
    if catalogue.vkey(cfg) < (7, 0) <= catalogue.vkey(release) and os.path.exists(views):
        # 6.10.2_to_7.0.0: labels_groups move to FireEdge's default-labels.yaml and the
        # Ruby Sunstone file is deleted (its files.yaml entry says `action: delete`)
        os.remove(views)
    paths.write_text(paths.at(CONF), onedconf.onecfg_conf(release), 0o644)
    out(f"ANY   : Backup stored in '{BACKUPS}/{stamp}'")
    out(f"ANY   : Configuration updated to {release}")
    return 0


def init(force: bool) -> int:
    """Initialise the state on the installed version; --force also drops what is pending."""
    release, cfg = _versions()
    if cfg is not None and not force:
        out("ANY   : Already initialized")
        return 0
    paths.write_text(paths.at(CONF), onedconf.onecfg_conf(release), 0o644)
    out(f"INFO  : Initialized on version {release}")
    return 0


def run(tool: str, argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    cmd = args[0] if args else ""
    if cmd == "status":
        return status()
    if cmd == "upgrade":
        return upgrade()
    if cmd == "init":
        return init(force="--force" in argv)
    if cmd == "version":
        release, cfg = _versions()
        out(f"OpenNebula:  {release}\nConfig:      {cfg or 'unknown'}")
        return 0
    raise Fail("Usage: onecfg COMMAND [args..] [options..]")

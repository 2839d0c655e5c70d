"""enable, disable, mask, unmask: the symlinks under /etc/systemd/system."""

from __future__ import annotations

import os

from .console import err, out
from .jobs import start, stop
from .paths import P
from .units import find


def install(cmd: str, names: list[str], flags: set[str]) -> int:
    etc = "/etc/systemd/system"
    for name in names:
        u = find(name)
        if u is None and cmd != "unmask":
            err(f"Failed to {cmd} unit: Unit file {name} does not exist.")
            return 1
        links = {f"{etc}/{name}": "/dev/null"} if cmd in ("mask", "unmask") else {}
        if u is not None and cmd in ("enable", "disable"):
            targets = u.words("WantedBy") + u.words("RequiredBy")
            links = {f"{etc}/{t}.wants/{name}": u.path for t in targets}
            if not links and cmd == "enable":
                err(f"The unit files have no installation config (WantedBy=, ...) for {name}.")
        for link, target in links.items():
            if cmd in ("enable", "mask") and not os.path.lexists(P(link)):
                os.makedirs(os.path.dirname(P(link)), exist_ok=True)
                os.symlink(target if target == "/dev/null" else P(target), P(link))
                out(f"Created symlink {link} → {target}.")
            elif cmd in ("disable", "unmask") and os.path.islink(P(link)):
                os.unlink(P(link))
                out(f'Removed "{link}".')
    if "--now" in flags and cmd in ("enable", "disable"):
        return start(names) if cmd == "enable" else stop(names, [])[0]
    return 0

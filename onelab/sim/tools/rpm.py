"""rpm: -q [--qf FORMAT] pkg..., -qa [pattern]."""

from __future__ import annotations

import re

from .. import catalogue, globs, nodestate
from .common import Fail, out


def render(fmt: str, name: str, release: str) -> str:
    tags = {
        "NAME": name,
        "VERSION": release,
        "RELEASE": catalogue.rpm_release(),
        "ARCH": "x86_64",
    }
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")
    return re.sub(r"%\{([^}]+)\}", lambda m: tags.get(m.group(1).upper(), "(none)"), fmt)


def run(tool: str, argv: list[str]) -> int:
    fmt = "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n"
    names: list[str] = []
    query = all_ = False
    it = iter(argv)
    for a in it:
        if a in ("--qf", "--queryformat"):
            fmt = next(it, fmt)
        elif a.startswith(("--qf=", "--queryformat=")):
            fmt = a.split("=", 1)[1]
        elif a.startswith("-") and not a.startswith("--"):
            query = query or "q" in a
            all_ = all_ or "a" in a
        elif a == "--query":
            query = True
        elif a == "--all":
            all_ = True
        elif not a.startswith("-"):
            names.append(a)
    if not query:
        raise Fail("rpm: no operation specified", 1)
    installed = nodestate.installed()
    if all_:
        for name in sorted(installed):
            if not names or any(globs.matches(name, p) for p in names):
                print(render(fmt, name, installed[name]["version"]), end="")
        return 0
    rc = 0
    for name in names:
        if name not in installed:
            out(f"package {name} is not installed")
            rc = 1
            continue
        print(render(fmt, name, installed[name]["version"]), end="")
    return rc

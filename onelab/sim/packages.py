"""Package transactions shared by apt and yum: plan, download, install."""

from __future__ import annotations

import os
import time

from . import catalogue, faults, nodestate, paths, state

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any

SOURCES = "/etc/apt/sources.list.d/opennebula.list"
REPOS = "/etc/yum.repos.d"
ONED_CONF = "/etc/one/oned.conf"


# Plain classes, not dataclasses: `dataclasses` imports `inspect` (with ast, dis and
# tokenize), ~9 ms of every simulated package command on a node.
class Change:
    __slots__ = ("name", "new", "old")

    def __init__(self, name: str, old: str | None, new: str) -> None:
        self.name = name
        self.old = old  # installed release, None = new install
        self.new = new

    def __repr__(self) -> str:
        return f"Change(name={self.name!r}, old={self.old!r}, new={self.new!r})"


class Plan:
    def __init__(
        self,
        changes: list[Change] | None = None,
        reconfigure: list[str] | None = None,
        notes: list[str] | None = None,
        error: str | None = None,
    ) -> None:
        self.changes: list[Change] = changes if changes is not None else []
        self.additional: list[str] = []  # moved along as siblings, not named
        self.reconfigure: list[str] = reconfigure if reconfigure is not None else []
        self.notes: list[str] = notes if notes is not None else []
        self.error = error


# ----------------------------------------------------------------- repositories


def apt_source_urls() -> list[str]:
    try:
        text = paths.read_text(paths.at(SOURCES))
    except OSError:
        return []
    urls = []
    for raw in text.splitlines():
        words = _drop_options(raw.split("#", 1)[0]).split()
        if len(words) >= 2 and words[0] == "deb":
            urls.append(words[1])
    return urls


def _drop_options(line: str) -> str:
    r"""The line without its bracketed parts (`re.sub(r"\[[^\]]*\]", "", line)`; `re`
    costs ~6 ms of every simulated command's start-up)."""
    out = []
    i = 0
    while True:
        start = line.find("[", i)
        end = line.find("]", start + 1) if start >= 0 else -1
        if end < 0:
            out.append(line[i:])
            return "".join(out)
        out.append(line[i:start])
        i = end + 1


def yum_urls() -> list[str]:
    urls: list[str] = []
    d = paths.at(REPOS)
    if not os.path.isdir(d):
        return urls
    for name in sorted(n for n in os.listdir(d) if n.endswith(".repo")):
        enabled = True
        url = None
        for raw in paths.read_text(os.path.join(d, name)).splitlines():
            line = raw.strip()
            if line.startswith("["):
                if url and enabled:
                    urls.append(url)
                url, enabled = None, True
            elif line.startswith("baseurl="):
                url = line.split("=", 1)[1].strip()
            elif line.replace(" ", "") == "enabled=0":
                enabled = False
        if url and enabled:
            urls.append(url)
    return urls


def offered(urls: list[str]) -> dict[str, list[str]]:
    """What the repositories at `urls` serve, less any release the lab withheld."""
    withheld = set(state.load().get("withheld_releases", []))
    found = catalogue.offered(urls)
    kept = {p: [v for v in vers if v not in withheld] for p, vers in found.items()}
    return {p: vers for p, vers in kept.items() if vers}


def apt_lists() -> tuple[list[str], dict[str, list[str]]]:
    lists = nodestate.load_pkgstate().get("lists") or {}
    return list(lists.get("urls", [])), dict(lists.get("pkgs", {}))


# ------------------------------------------------------------------- planning


def candidate(name: str, offered: dict[str, list[str]]) -> str | None:
    vers = offered.get(name, [])
    return vers[-1] if vers else None


def _not_found(name: str, want: str | None, inst: Any, vers: list[str], fmt: Any) -> str | None:
    """apt's error when `name` (at `want`) is neither offered nor installed."""
    if not vers and inst is None:
        return f"E: Unable to locate package {name}"
    if want is not None and want not in vers and (inst is None or inst["version"] != want):
        return f"E: Version '{fmt(want)}' for '{name}' was not found"
    return None


def _plan_installed(
    p: Plan, name: str, inst: Any, want: str | None, cand: str, allow_downgrades: bool, fmt: Any
) -> None:
    """Into `p`: what becomes of the installed package `name` (candidate `cand`)."""
    old = inst["version"]
    if catalogue.vkey(cand) == catalogue.vkey(old) or (
        want is None and catalogue.vkey(cand) < catalogue.vkey(old)
    ):
        if inst.get("status") == "iF":
            p.reconfigure.append(name)
        else:
            p.notes.append(f"{name} is already the newest version ({fmt(old)}).")
        return
    if catalogue.vkey(cand) < catalogue.vkey(old) and not allow_downgrades:
        p.error = "E: Packages were downgraded and -y was used without --allow-downgrades."
        return
    p.changes.append(Change(name, old, cand))


def plan(
    targets: list[tuple[str, str | None]],
    offered: dict[str, list[str]],
    installed: nodestate.Packages,
    *,
    only_upgrade: bool,
    allow_downgrades: bool,
    fmt: Any,
) -> Plan:
    """targets: (name, exact release or None). fmt(release) -> version string."""
    p = Plan()
    for name, want in targets:
        inst = installed.get(name)
        p.error = _not_found(name, want, inst, offered.get(name, []), fmt)
        if p.error is not None:
            return p
        cand = want or candidate(name, offered) or (inst["version"] if inst else None)
        assert cand is not None
        if inst is None:
            if only_upgrade:
                p.notes.append(
                    f"Skipping {name}, it is not installed and only upgrades are requested."
                )
            else:
                p.changes.append(Change(name, None, cand))
            continue
        _plan_installed(p, name, inst, want, cand, allow_downgrades, fmt)
        if p.error is not None:
            return p
    _with_siblings(p, {name for name, _ in targets}, offered, installed, allow_downgrades, fmt)
    return p


def _with_siblings(
    p: Plan,
    named: set[str],
    offered: dict[str, list[str]],
    installed: nodestate.Packages,
    allow_downgrades: bool,
    fmt: Any,
) -> None:
    """Into `p`: the siblings apt moves along (catalogue.DEPENDS, exact versions): what a
    changed package needs, to its version, and each installed package that needs a
    changed one, to that one's version. A package named on the command line is not moved
    (apt: held broken packages); one with no candidate at that version stays as it is."""
    changes = {c.name: c for c in p.changes}
    while (move := _next_sibling(changes, installed, offered)) is not None:
        mover, need, why = move
        if mover in named or mover in p.additional:  # asked for, or pulled two ways
            p.error = f"E: Unable to correct problems, you have held broken packages ({why})."
            return
        old = installed[mover]["version"] if mover in installed else None
        if old and catalogue.vkey(need) < catalogue.vkey(old) and not allow_downgrades:
            p.error = "E: Packages were downgraded and -y was used without --allow-downgrades."
            return
        changes[mover] = Change(mover, old, need)
        p.additional.append(mover)
    # dpkg unpacks and configures what others depend on first
    p.changes = sorted(changes.values(), key=lambda c: _depth(c.name))


def _depth(name: str) -> int:
    """How many levels of siblings `name` depends on (opennebula-common: 0)."""
    deps = catalogue.DEPENDS.get(name, ())
    return 1 + max(map(_depth, deps)) if deps else 0


def _next_sibling(
    changes: dict[str, Change], installed: nodestate.Packages, offered: dict[str, list[str]]
) -> tuple[str, str, str] | None:
    """The first package the transaction must move along: (name, version, why)."""
    version = {n: i["version"] for n, i in installed.items()}
    version |= {n: c.new for n, c in changes.items()}
    for pkg in sorted(version):
        for dep in catalogue.DEPENDS.get(pkg, ()):
            if version.get(dep) == version[pkg]:
                continue
            if pkg in changes:  # the changed package takes its sibling along
                mover, need = dep, version[pkg]
            elif dep in changes:  # the installed package follows its changed sibling
                mover, need = pkg, version[dep]
            else:
                continue
            if need in offered.get(mover, []) and not (
                mover in changes and changes[mover].new == need
            ):
                return mover, need, f"{pkg} : Depends: {dep} (= {version[pkg]})"
    return None


def upgradable(offered: dict[str, list[str]], installed: nodestate.Packages) -> list[Change]:
    out: list[Change] = []
    for name, info in sorted(installed.items()):
        cand = candidate(name, offered)
        if cand and catalogue.vkey(cand) > catalogue.vkey(info["version"]):
            out.append(Change(name, info["version"], cand))
    return out


# ---------------------------------------------------------------- executing


def to_download(changes: list[Change]) -> list[Change]:
    cache = set(nodestate.load_pkgstate()["cache"])
    return [c for c in changes if f"{c.name}={c.new}" not in cache]


def sleep_pseudo(tool: str, what: str) -> None:
    delay = faults.pseudo_latency(tool, what)
    if delay > 0:
        time.sleep(delay)


def conffile_modified(path: str) -> bool:
    pristine = state.load_local("conffiles", {}).get(path)
    if pristine is None:
        return False
    import hashlib  # only a conffile question needs it (~4 ms of OpenSSL to load)

    try:
        with open(paths.at(path), "rb") as fh:
            current = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return False
    return bool(current != pristine)


def commit(
    changes: list[Change],
    *,
    download_only: bool,
    half_configured: list[str],
    configured: list[str],
) -> None:
    """Record a transaction in the node state and mirror it to the cluster."""
    with state.mutate() as st:
        pk = nodestate.load_pkgstate()
        cache = set(pk["cache"])
        for c in changes:
            cache.add(f"{c.name}={c.new}")
        pk["cache"] = sorted(cache)
        if not download_only:
            for c in changes:
                status = "iF" if c.name in half_configured else "ii"
                pk["installed"][c.name] = {"version": c.new, "status": status}
                if c.name == "opennebula":
                    _write_remotes_version(c.new)
            for name in configured:
                if name in pk["installed"]:
                    pk["installed"][name]["status"] = "ii"
            for name in half_configured:
                if name in pk["installed"]:
                    pk["installed"][name]["status"] = "iF"
        state.save_local("packages", pk)
        nodestate.mirror(st)


def remove(names: list[str]) -> list[str]:
    """Remove installed packages (their configuration files stay); the names removed."""
    with state.mutate() as st:
        pk = nodestate.load_pkgstate()
        gone = [n for n in names if n in pk["installed"]]
        for name in gone:
            del pk["installed"][name]
        state.save_local("packages", pk)
        nodestate.mirror(st)
    return gone


def _write_remotes_version(release: str) -> None:
    path = paths.at("/var/lib/one/remotes/VERSION")
    if not os.path.isdir(os.path.dirname(path)):
        return
    paths.write_text(path, release + "\n", 0o644)
    paths.chown(path, *paths.oneadmin_ids())


def save_lists(urls: list[str], offered: dict[str, list[str]]) -> None:
    with state.mutate():
        pk = nodestate.load_pkgstate()
        pk["lists"] = {"urls": urls, "pkgs": offered}
        state.save_local("packages", pk)

"""yum/dnf: makecache, upgrade/update/install [--downloadonly], list installed."""

from __future__ import annotations

import time

from .. import catalogue, nodestate, packages
from ..packages import Change
from .common import Fail, err, out

RULE = "=" * 80


def rv(release: str) -> str:
    return f"{release}-{catalogue.rpm_release()}"


def _offered() -> tuple[list[str], dict[str, list[str]]]:
    urls = packages.yum_urls()
    return urls, packages.offered(urls)


def _metadata(urls: list[str]) -> None:
    bad = [u for u in urls if not catalogue.releases_for_url(u)]
    if bad:
        err("Errors during downloading metadata for repository 'opennebula':")
        err(f"  - Status code: 404 for {bad[0]}/repodata/repomd.xml (IP: 104.26.6.143)")
        raise Fail(
            "Error: Failed to download metadata for repo 'opennebula': Cannot download "
            "repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried",
            1,
        )
    out(f"Last metadata expiration check: 0:00:42 ago on {time.strftime('%a %d %b %Y %H:%M:%S')}.")


def _split(target: str, offered: dict[str, list[str]]) -> tuple[str, str | None]:
    known = set(offered) | set(nodestate.installed())
    if target in known:
        return target, None
    for name in sorted(known, key=len, reverse=True):
        if target.startswith(name + "-"):
            ver = target[len(name) + 1 :]
            return name, ver.split("-")[0]
    return target, None


def _table(changes: list[Change]) -> None:
    out("Dependencies resolved.")
    out(RULE)
    out(f" {'Package':<28} {'Architecture':<13} {'Version':<16} {'Repository':<12} Size")
    out(RULE)
    up = [c for c in changes if c.old is not None]
    new = [c for c in changes if c.old is None]
    for title, group in (("Installing:", new), ("Upgrading:", up)):
        if group:
            out(title)
            for c in group:
                out(f" {c.name:<28} {'x86_64':<13} {rv(c.new):<16} {'opennebula':<12} 4.2 M")
    out("")
    out("Transaction Summary")
    out(RULE)
    if new:
        out(f"Install  {len(new)} Package{'s' if len(new) > 1 else ''}")
    if up:
        out(f"Upgrade  {len(up)} Package{'s' if len(up) > 1 else ''}")
    out("")


def _resolve(
    cmd: str, names: list[str], offered: dict[str, list[str]], installed: nodestate.Packages
) -> list[Change]:
    """The changes `cmd` makes for `names` (all upgrades when none); Fail when no
    argument matched anything."""
    changes: list[Change] = []
    notes: list[str] = []
    if not names and cmd in ("upgrade", "update"):
        changes = packages.upgradable(offered, installed)
    for t in names:
        name, want = _split(t, offered)
        if name not in offered and name not in installed:
            notes.append(f"No match for argument: {t}")
            continue
        if cmd in ("upgrade", "update") and name not in installed:
            out(f"Package {name} available, but not installed.")
            notes.append(f"No match for argument: {t}")
            continue
        p = packages.plan(
            [(name, want)], offered, installed, only_upgrade=False, allow_downgrades=True, fmt=rv
        )
        if p.error:
            notes.append(f"No match for argument: {t}")
            continue
        if p.notes and cmd == "install":
            out(f"Package {name}-{rv(installed[name]['version'])}.x86_64 is already installed.")
        changes += p.changes
    for n in notes:
        out(n)
    if notes and not changes:
        what = "upgrade" if cmd in ("upgrade", "update") else "install"
        if cmd == "install":
            raise Fail(f"Error: Unable to find a match: {' '.join(names)}", 1)
        raise Fail(f"Error: No packages marked for {what}.", 1)
    # each target's siblings (packages.plan): one change per package
    return list({c.name: c for c in changes}.values())


def _download(tool: str, changes: list[Change], download: list[Change]) -> None:
    out("Downloading Packages:")
    if download:
        packages.sleep_pseudo(tool, "download")
    for i, c in enumerate(changes, 1):
        rpm = f"{c.name}-{rv(c.new)}.x86_64.rpm"
        if c in download:
            out(f"({i}/{len(changes)}): {rpm}  4.2 MB/s | 4.2 MB  00:01")
        else:
            out(f"[SKIPPED] {rpm}: Already downloaded")


def _install(tool: str, changes: list[Change]) -> None:
    packages.sleep_pseudo(tool, "install")
    out("Running transaction check")
    out("Transaction check succeeded.")
    out("Running transaction test")
    out("Transaction test succeeded.")
    out("Running transaction")
    total = len(changes) * 2
    for i, c in enumerate(changes, 1):
        verb = "Upgrading" if c.old else "Installing"
        out(f"  {verb:<17}: {c.name}-{rv(c.new)}.x86_64{'':>10}{i}/{total}")
    if any(c.name == "opennebula" and c.old for c in changes) and packages.conffile_modified(
        packages.ONED_CONF
    ):
        out("warning: /etc/one/oned.conf created as /etc/one/oned.conf.rpmnew")
    out("")
    up = [c for c in changes if c.old]
    new = [c for c in changes if not c.old]
    if up:
        out("Upgraded:")
        out("  " + "  ".join(f"{c.name}-{rv(c.new)}.x86_64" for c in up))
    if new:
        out("Installed:")
        out("  " + "  ".join(f"{c.name}-{rv(c.new)}.x86_64" for c in new))
    out("")
    packages.commit(changes, download_only=False, half_configured=[], configured=[])
    out("Complete!")


def _transaction(tool: str, cmd: str, names: list[str], flags: set[str]) -> int:
    urls, offered = _offered()
    _metadata(urls)
    changes = _resolve(cmd, names, offered, nodestate.installed())
    if not changes:
        out("Dependencies resolved.")
        out("Nothing to do.")
        out("Complete!")
        return 0
    _table(changes)
    download = packages.to_download(changes)
    if len(download) < len(changes):
        out(f"Total size: {4.2 * len(changes):.1f} M")
    out(f"Total download size: {f'{4.2 * len(download):.1f} M' if download else '0'}")
    if "-y" not in flags and "--assumeyes" not in flags:
        out("Is this ok [y/N]: ", end="")
        out("Operation aborted.")
        return 1
    _download(tool, changes, download)
    if "--downloadonly" in flags:
        packages.commit(changes, download_only=True, half_configured=[], configured=[])
        out("Complete!")
        out("The downloaded packages were saved in cache until the next successful transaction.")
        out("You can remove cached packages by executing 'yum clean packages'.")
        return 0
    _install(tool, changes)
    return 0


def _makecache() -> int:
    urls, _ = _offered()
    for u in urls:
        if catalogue.releases_for_url(u):
            out("OpenNebula Community Edition                    1.1 MB/s | 112 kB     00:00")
    _metadata(urls)
    out("Metadata cache created.")
    return 0


def _list_installed() -> int:
    out("Installed Packages")
    for name, info in sorted(nodestate.installed().items()):
        out(f"{name + '.x86_64':<40} {rv(info['version']):<20} @opennebula")
    return 0


def _repoquery(argv: list[str], names: list[str]) -> int:
    _, offered = _offered()
    for name in names:
        vers = offered.get(name, [])
        if vers:
            out(vers[-1] if "--queryformat" in " ".join(argv) else f"{name}-0:{rv(vers[-1])}")
    return 0


def run(tool: str, argv: list[str]) -> int:
    flags = {a for a in argv if a.startswith("-")}
    args = [a for a in argv if not a.startswith("-")]
    if "-y" in flags:
        pass
    if not args:
        raise Fail("Error: No command given.", 1)
    cmd, names = args[0], args[1:]
    if cmd == "makecache":
        return _makecache()
    if cmd in ("upgrade", "update", "install"):
        return _transaction(tool, cmd, names, flags)
    if cmd == "downgrade":  # explicit older versions: a transaction like install's
        return _transaction(tool, "install", names, flags)
    if cmd in ("remove", "erase"):
        gone = packages.remove(names)
        for name in gone:
            out(f"  Erasing          : {name}")
        out("Complete!" if gone else "No packages marked for removal.")
        return 0
    if cmd == "list" and names[:1] == ["installed"]:
        return _list_installed()
    if cmd == "repoquery":
        return _repoquery(argv, names)
    if cmd == "clean":
        return 0
    raise Fail(f"No such command: {cmd}. Please use /usr/bin/{tool} --help", 1)

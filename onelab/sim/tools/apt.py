"""apt-get: update, install, upgrade (with dpkg's conffile prompt)."""

from __future__ import annotations

from .. import catalogue, nodestate, packages
from ..packages import Change
from .common import Fail, err, out

ARCH = "amd64"
REFUSE_CONFFILE = """
Configuration file '/etc/one/oned.conf'
 ==> Modified (by you or by a script) since installation.
 ==> Package distributor has shipped an updated version.
   What would you like to do about it ?  Your options are:
    Y or I  : install the package maintainer's version
    N or O  : keep your currently-installed version
      D     : show the differences between the versions
      Z     : start a shell to examine the situation
 The default action is to keep your current version.
*** oned.conf (Y/I/N/O/D/Z) [default=N] ? """


def dv(release: str) -> str:
    return catalogue.deb_version(release)


def parse(argv: list[str]) -> tuple[str, list[str], set[str], list[str]]:
    """(command, targets, flags, dpkg options)."""
    cmd = ""
    targets: list[str] = []
    flags: set[str] = set()
    dpkg_opts: list[str] = []
    it = iter(argv)
    for a in it:
        if a in ("-o", "--option"):
            value = next(it, "")
            if value.startswith("Dpkg::Options::="):
                dpkg_opts.append(value.split("=", 1)[1].strip("'\""))
        elif a.startswith("-o") and not a.startswith("--"):
            value = a[2:]
            if value.startswith("Dpkg::Options::="):
                dpkg_opts.append(value.split("=", 1)[1].strip("'\""))
        elif a.startswith("--"):
            flags.add(a)
        elif a.startswith("-"):
            for ch in a[1:]:
                flags.add(f"-{ch}")
        elif not cmd:
            cmd = a
        else:
            targets.append(a)
    return cmd, targets, flags, dpkg_opts


def _update() -> int:
    urls = packages.apt_source_urls()
    n = 1
    out(f"Hit:{n} http://deb.debian.org/debian bookworm InRelease")
    offered: dict[str, list[str]] = {}
    failed = []
    for url in urls:
        n += 1
        if catalogue.releases_for_url(url):
            out(f"Get:{n} {url} stable InRelease [2,337 B]")
            n += 1
            out(f"Get:{n} {url} stable/opennebula {ARCH} Packages [12.4 kB]")
            for pkg, vers in packages.offered([url]).items():
                offered[pkg] = sorted(set(offered.get(pkg, [])) | set(vers), key=catalogue.vkey)
        else:
            out(f"Ign:{n} {url} stable InRelease")
            out(f"Err:{n} {url} stable Release")
            out("  404  Not Found [IP: 104.26.6.143 443]")
            failed.append(url)
    out("Fetched 14.7 kB in 1s (14.1 kB/s)")
    out("Reading package lists...")
    if failed:
        for url in failed:
            err(f"E: The repository '{url} stable Release' does not have a Release file.")
        err(
            "N: Updating from such a repository can't be done securely, "
            "and is therefore disabled by default."
        )
        packages.save_lists([u for u in urls if u not in failed], offered)
        return 100
    packages.save_lists(urls, offered)
    return 0


def _targets(names: list[str]) -> list[tuple[str, str | None]]:
    out_: list[tuple[str, str | None]] = []
    for t in names:
        name, _, ver = t.partition("=")
        rel = ver.rsplit("-", 1)[0] if ver else None
        if ver and dv(rel or "") != ver:
            rel = ver  # not a version we build: will not be found
        out_.append((name, rel))
    return out_


def _changes(
    cmd: str,
    names: list[str],
    flags: set[str],
    offered: dict[str, list[str]],
    installed: nodestate.Packages,
) -> list[Change]:
    if cmd == "install":
        p = packages.plan(
            _targets(names),
            offered,
            installed,
            only_upgrade="--only-upgrade" in flags,
            allow_downgrades="--allow-downgrades" in flags,
            fmt=dv,
        )
    else:
        out("Calculating upgrade...")
        p = packages.Plan(changes=packages.upgradable(offered, installed))
    if p.error:
        raise Fail(p.error, 100)
    for note in p.notes:
        out(note)
    if p.additional:
        out("The following additional packages will be installed:")
        out("  " + " ".join(sorted(p.additional)))
    return p.changes


def _summary(
    changes: list[Change], offered: dict[str, list[str]], installed: nodestate.Packages
) -> None:
    upgrades = [c for c in changes if c.old is not None]
    new = [c for c in changes if c.old is None]
    in_tx = {c.name for c in changes}
    held = [c for c in packages.upgradable(offered, installed) if c.name not in in_tx]
    if new:
        out("The following NEW packages will be installed:")
        out("  " + " ".join(sorted(c.name for c in new)))
    if upgrades:
        out("The following packages will be upgraded:")
        out("  " + " ".join(sorted(c.name for c in upgrades)))
    out(
        f"{len(upgrades)} upgraded, {len(new)} newly installed, 0 to remove and "
        f"{len(held)} not upgraded."
    )


def _fetch(changes: list[Change], urls: list[str]) -> None:
    download = packages.to_download(changes)
    size = 4.2 * len(download)
    total = 4.2 * len(changes)
    # As apt says it: what is in /var/cache/apt/archives already is not fetched again.
    if len(download) == len(changes):
        out(f"Need to get {size:.1f} MB of archives.")
    else:
        out(f"Need to get {f'{size:.1f} MB' if download else '0 B'}/{total:.1f} MB of archives.")
    out("After this operation, 1,024 kB of additional disk space will be used.")
    base = urls[0] if urls else "https://downloads.opennebula.io/repo"
    if download:
        packages.sleep_pseudo("apt-get", "download")
        for i, c in enumerate(download, 1):
            out(f"Get:{i} {base} stable/opennebula {ARCH} {c.name} {ARCH} {dv(c.new)} [4,200 kB]")
        out(f"Fetched {size:.1f} MB in 1s ({size:.1f} MB/s)")


def _install(cmd: str, names: list[str], flags: set[str], dpkg_opts: list[str]) -> int:
    urls, offered = packages.apt_lists()
    installed = nodestate.installed()
    out("Reading package lists...")
    out("Building dependency tree...")
    out("Reading state information...")
    pending = [n for n, i in installed.items() if i.get("status") == "iF"]
    if pending:
        raise Fail(
            "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to "
            "correct the problem.",
            100,
        )
    if cmd == "install" and not names:
        out("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
        return 0
    changes = _changes(cmd, names, flags, offered, installed)
    _summary(changes, offered, installed)
    if not changes:
        return 0
    _fetch(changes, urls)
    if "-d" in flags or "--download-only" in flags:
        out("Download complete and in download only mode")
        packages.commit(changes, download_only=True, half_configured=[], configured=[])
        return 0
    packages.sleep_pseudo("apt-get", "install")
    return _dpkg(changes, dpkg_opts)


def _dpkg(changes: list[Change], dpkg_opts: list[str]) -> int:
    keep = "--force-confold" in dpkg_opts or "--force-confdef" in dpkg_opts
    out("(Reading database ... 71234 files and directories currently installed.)")
    for c in changes:
        out(f"Preparing to unpack .../{c.name}_{dv(c.new)}_{ARCH}.deb ...")
        if c.old is None:
            out(f"Selecting previously unselected package {c.name}.")
            out(f"Unpacking {c.name} ({dv(c.new)}) ...")
        else:
            out(f"Unpacking {c.name} ({dv(c.new)}) over ({dv(c.old)}) ...")
    half: list[str] = []
    for c in changes:
        out(f"Setting up {c.name} ({dv(c.new)}) ...")
        if (
            c.name == "opennebula"
            and c.old is not None
            and not keep
            and packages.conffile_modified(packages.ONED_CONF)
        ):
            out(REFUSE_CONFFILE, end="")
            err("dpkg: error processing package opennebula (--configure):")
            err(" end of file on stdin at conffile prompt")
            half.append(c.name)
    out("Processing triggers for man-db (2.11.2-2) ...")
    packages.commit(changes, download_only=False, half_configured=half, configured=[])
    if half:
        out("Errors were encountered while processing:")
        for name in half:
            out(f" {name}")
        err("E: Sub-process /usr/bin/dpkg returned an error code (1)")
        return 100
    return 0


def run(tool: str, argv: list[str]) -> int:
    cmd, targets, flags, dpkg_opts = parse(argv)
    if cmd == "update":
        return _update()
    if cmd in ("install", "upgrade", "dist-upgrade", "full-upgrade"):
        return _install(cmd, targets, flags, dpkg_opts)
    if cmd in ("remove", "purge"):
        out("Reading package lists...")
        gone = packages.remove(targets)
        for name in gone:
            out(f"Removing {name} ...")
        out(f"0 upgraded, 0 newly installed, {len(gone)} to remove and 0 not upgraded.")
        return 0
    if cmd in ("clean", "autoclean", "check"):
        return 0
    if not cmd:
        raise Fail("E: Invalid operation ", 100)
    raise Fail(f"E: Invalid operation {cmd}", 100)

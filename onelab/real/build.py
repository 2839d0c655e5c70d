"""OpenNebula built from its upstream source, once, and cached by the tarball's sha256.

`ensure(release)` returns the staged install of one release (the packaged layout: /usr,
/etc/one, /var/lib/one in a folder), building what the cache does not hold yet:

  CACHE/src/<release>-<sha12>/            the source and its scons objects (`.built` when done)
  CACHE/stage/<release>-<sha12>-r<REV>/   `DESTDIR=... ./install.sh`, stripped, the lab's
                                          fixes applied (`.staged` when done)

CACHE is /var/cache/oneupgrade-lab (or $ONEUPGRADE_LAB_CACHE): outside any clone, so a kept
machine never builds twice. The source tarballs are the project's `../shared/opennebula/`
(or $ONEUPGRADE_OPENNEBULA_SOURCES). The build dependencies come from Debian's archive.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from . import fixes

CACHE = Path(os.environ.get("ONEUPGRADE_LAB_CACHE", "/var/cache/oneupgrade-lab"))
_PROJECT = Path(__file__).resolve().parents[2]  # the checkout (onelab/real/build.py)
SOURCES = Path(
    os.environ.get("ONEUPGRADE_OPENNEBULA_SOURCES", _PROJECT.parent / "shared/opennebula")
)
# A change to the staging fixes stages anew; the compiled objects stay valid.
REVISION = hashlib.sha256(Path(__file__).with_name("fixes.py").read_bytes()).hexdigest()[:8]

BUILD_DEPENDS = (
    "scons", "g++", "bison", "flex", "pkg-config", "zlib1g-dev", "libxmlrpc-c++8-dev",
    "libsqlite3-dev", "libxml2-dev", "libssl-dev", "libcurl4-openssl-dev", "libsystemd-dev",
    "ruby", "ruby-dev", "binutils", "xz-utils", "default-libmysqlclient-dev",
)  # fmt: skip
# What the installed OpenNebula needs at run time (the packages' Depends).
RUNTIME_DEPENDS = (
    "ruby", "ruby-xmlrpc", "ruby-nokogiri", "ruby-sequel", "ruby-sqlite3", "ruby-json",
    "ruby-activesupport", "ruby-treetop", "ruby-parse-cron", "ruby-ffi-rzmq", "ruby-augeas",
    "sqlite3", "rsync", "openssh-client", "sudo", "libxmlrpc-c++8v5", "libsqlite3-0",
    "libxml2", "libssl3", "libcurl4", "libsystemd0", "logrotate", "procps", "ruby-sinatra",
    "thin", "ruby-ipaddress", "ruby-git", "libmariadb3", "ruby-mysql2", "mariadb-client",
)  # fmt: skip
# The MySQL/MariaDB backend's server (`up --db mysql`): on the machine, so that every node
# sees it installed through its overlays; the lab runs one per front-end, never the host's.
MYSQL_SERVER = ("mariadb-server",)


@dataclass(frozen=True)
class Recipe:
    """How one release series builds and installs on Debian 12."""

    scons: tuple[str, ...]
    install: tuple[str, ...]


# Both backends, as OpenNebula's packages are built: the lab runs either (`up --db`).
_SCONS = ("sqlite=yes", "mysql=yes", "svncterm=no", "systemd=yes")
RECIPES = {
    # Debian 12's xmlrpc-c is 1.33, hence new_xmlrpc; -p: no Sunstone development files.
    "6.10": Recipe((*_SCONS, "new_xmlrpc=yes"), ("-p",)),
    # 7.0 has no Sunstone; -P: no FireEdge development files.
    "7.0": Recipe(_SCONS, ("-P",)),
    # 7.2's gRPC layer needs grpc++; the CLI and the runbook speak XML-RPC.
    "7.2": Recipe((*_SCONS, "grpc=no"), ("-P",)),
}


def series_of(release: str) -> str:
    return ".".join(release.split(".")[:2])


def tarball(release: str) -> Path:
    path = SOURCES / f"opennebula-{release}.tar.xz"
    if not path.is_file():
        raise LabError(
            f"no OpenNebula source {path}; the real tier builds from opennebula-X.Y.Z.tar.xz "
            "(set ONEUPGRADE_OPENNEBULA_SOURCES to their folder)"
        )
    return path


def available() -> list[str]:
    """The releases whose source tarball is present and whose series has a recipe."""
    found = []
    for path in sorted(SOURCES.glob("opennebula-*.tar.xz")):
        release = path.name.removeprefix("opennebula-").removesuffix(".tar.xz")
        if series_of(release) in RECIPES:
            found.append(release)
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Build:
    release: str
    sha256: str

    @property
    def key(self) -> str:
        # The options too: objects compiled without a backend are not reused for one with it.
        options = hashlib.sha256(" ".join(self.recipe.scons).encode()).hexdigest()[:6]
        return f"{self.release}-{self.sha256[:12]}-o{options}"

    @property
    def src(self) -> Path:
        return CACHE / "src" / self.key

    @property
    def stage(self) -> Path:
        return CACHE / "stage" / f"{self.key}-r{REVISION}"

    @property
    def recipe(self) -> Recipe:
        return RECIPES[series_of(self.release)]


@contextmanager
def _locked() -> Iterator[None]:
    """One builder at a time on this machine (parallel test sessions share the cache)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def say(text: str) -> None:
    print(f"[real tier] {text}", file=sys.stderr, flush=True)


def missing_packages(names: tuple[str, ...]) -> list[str]:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {ln.split()[0] for ln in done.stdout.splitlines() if ln.split()[1:2] == ["ii"]}
    return [n for n in names if n not in installed]


def apt_install(names: tuple[str, ...]) -> None:
    """Install Debian packages that are missing (the build and run-time dependencies)."""
    missing = missing_packages(names)
    if not missing:
        return
    say(f"installing from Debian: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise LabError(f"{' '.join(argv[:2])} failed: {' | '.join(tail)}")


def _run(argv: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as fh:
        done = subprocess.run(
            argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise LabError(f"{' '.join(argv)} failed in {cwd} (log {log}): {' | '.join(tail)}")


def compile_source(build: Build) -> None:
    """Extract the tarball and run scons (about 8 minutes on 2 cores)."""
    if (build.src / ".built").exists():
        return
    started = time.monotonic()
    if not (build.src / "SConstruct").exists():
        say(f"extracting {build.release}")
        tmp = build.src.with_name(build.src.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(["tar", "-xJf", str(tarball(build.release)), "--strip-components=1", "-C", str(tmp)],
             CACHE, CACHE / f"{build.key}.log")  # fmt: skip
        tmp.rename(build.src)
    _no_debug_info(build.src / "SConstruct")
    say(f"compiling OpenNebula {build.release} (scons {' '.join(build.recipe.scons)})")
    jobs = str(os.cpu_count() or 2)
    _run(["scons", f"-j{jobs}", *build.recipe.scons], build.src, build.src / "scons.log")
    (build.src / ".built").write_text(f"{time.monotonic() - started:.0f}\n")
    say(f"compiled {build.release} in {time.monotonic() - started:.0f}s")


def _no_debug_info(sconstruct: Path) -> None:
    """The SConstruct compiles and links with -g, which the stage strips again: without it
    the compile writes a fraction of the object bytes and the link reads them (no other
    flag changes, the code is the same)."""
    text = sconstruct.read_text()
    lean = text.replace('"-g",', '"-g0",').replace("LINKFLAGS=['-g',", "LINKFLAGS=['-g0',")
    if lean != text:
        sconstruct.write_text(lean)


def stage(build: Build) -> None:
    """`install.sh` into a staging folder, stripped, with the lab's fixes."""
    if (build.stage / ".staged").exists():
        return
    tmp = build.stage.with_name(build.stage.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {**os.environ, "DESTDIR": str(tmp)}
    log = build.src / "install.log"
    log.unlink(missing_ok=True)
    # install.sh reports files it cannot find (man pages, minified Sunstone) and goes on.
    subprocess.run(["./install.sh", *build.recipe.install], cwd=build.src, env=env,
                   stdout=log.open("wb"), stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if not (tmp / "usr/bin/oned").exists():
        raise LabError(f"install.sh of {build.release} installed no oned (log {log})")
    fixes.apply(build.src, tmp, build.release)
    _strip(tmp)
    (tmp / ".staged").write_text(build.release + "\n")
    shutil.rmtree(build.stage, ignore_errors=True)
    tmp.rename(build.stage)
    for old in build.stage.parent.glob(f"{build.key}-r*"):
        if old != build.stage:  # stages of earlier fixes
            shutil.rmtree(old, ignore_errors=True)


def _strip(root: Path) -> None:
    """The SConstruct builds with -g: oned is 65 MB unstripped, 8 MB stripped."""
    elves = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    elves.append(str(path))
    if elves:
        subprocess.run(["strip", "--strip-unneeded", *elves], check=True, capture_output=True)


def ensure(release: str) -> Build:
    """The staged build of `release`, built now if the cache lacks it."""
    if series_of(release) not in RECIPES:
        raise LabError(f"no build recipe for OpenNebula {release}")
    build = Build(release, sha256(tarball(release)))
    if (build.stage / ".staged").exists():
        if missing_packages(RUNTIME_DEPENDS + MYSQL_SERVER):
            with _locked():
                apt_install(RUNTIME_DEPENDS + MYSQL_SERVER)
        return build
    with _locked():
        apt_install(BUILD_DEPENDS + RUNTIME_DEPENDS + MYSQL_SERVER)
        compile_source(build)
        stage(build)
        _forget_other_options(build)
    return build


def _forget_other_options(build: Build) -> None:
    """The objects and stages of this source built with other scons options (an earlier
    recipe): a kept machine would otherwise keep both, 2 GB and more."""
    prefix = f"{build.release}-{build.sha256[:12]}"
    for folder, mine in ((CACHE / "src", build.src), (CACHE / "stage", build.stage)):
        for old in folder.glob(f"{prefix}*"):
            if old != mine and not old.name.startswith(build.key):
                shutil.rmtree(old, ignore_errors=True)


_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")


def parse_release(text: str) -> str:
    """'6.10' -> the newest 6.10.x whose source is here; '7.0.2' -> itself if present."""
    releases = available()
    if _RELEASE.match(text):
        if text not in releases:
            raise LabError(f"no source of OpenNebula {text} (have: {', '.join(releases)})")
        return text
    matching = [r for r in releases if series_of(r) == text]
    if not matching:
        raise LabError(f"no source of an OpenNebula {text} release (have: {', '.join(releases)})")
    return max(matching, key=lambda r: tuple(int(p) for p in r.split(".")))

"""The lab's apt repository of a series, laid out like OpenNebula's:
CACHE/repo/<series>/Debian/12/{pool,dists/stable/...}, made anew when its builds or the
packaging recipe changed."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .build import CACHE, Build, series_of
from .packaging import RECIPE, make_debs

SUITE = "stable"
COMPONENT = "opennebula"


def _field_block(deb: Path, pool_rel: str) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True,
                             check=True).stdout.rstrip("\n")  # fmt: skip
    data = deb.read_bytes()
    return (
        f"{control}\nFilename: {pool_rel}\nSize: {len(data)}\n"
        f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"  # noqa: S324
    )


def repo_dir(series: str) -> Path:
    return CACHE / "repo" / series / "Debian" / "12"


def write_repository(builds: list[Build]) -> Path:
    """The repository of one series (every build given must be of it); rebuilt only when
    its builds changed. Returns CACHE/repo."""
    series = series_of(builds[0].release)
    target = repo_dir(series)
    recipe = RECIPE  # these rules, as loaded
    key = "\n".join([recipe, *sorted(b.stage.name for b in builds)]) + "\n"
    if (target / ".builds").exists() and (target / ".builds").read_text() == key:
        return CACHE / "repo"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".12-"))
    pool = tmp / "pool" / COMPONENT
    pool.mkdir(parents=True)
    blocks = []
    for build in builds:
        for deb in make_debs(build, pool):
            blocks.append(_field_block(deb, f"pool/{COMPONENT}/{deb.name}"))
    _write_index(tmp / "dists" / SUITE, blocks)
    (tmp / ".builds").write_text(key)
    tmp.chmod(0o755)
    _replace(target, tmp)
    return CACHE / "repo"


def _write_index(dists: Path, blocks: list[str]) -> None:
    """dists/stable: the Packages index, plain and gzipped, and the Release file."""
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    rel_dir = f"{COMPONENT}/binary-{arch}"
    (dists / rel_dir).mkdir(parents=True)
    packages = "\n".join(blocks).encode()
    (dists / rel_dir / "Packages").write_bytes(packages)
    (dists / rel_dir / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    sums = []
    for name in ("Packages", "Packages.gz"):
        data = (dists / rel_dir / name).read_bytes()
        sums.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {rel_dir}/{name}")
    (dists / "Release").write_text(
        f"Origin: OpenNebula\nLabel: OpenNebula (lab build)\nSuite: {SUITE}\nCodename: {SUITE}\n"
        f"Architectures: {arch}\nComponents: {COMPONENT}\nSHA256:\n" + "\n".join(sums) + "\n"
    )


def _replace(target: Path, tmp: Path) -> None:
    """The new repository in place of the old one (which is removed after the swap)."""
    if target.exists():
        old = target.with_name(f".old-{os.getpid()}")
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)

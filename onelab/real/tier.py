"""The real tier as the lab's `up` uses it: which releases, their builds and repositories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import build, repository


@dataclass(frozen=True)
class Releases:
    release: str  # what the lab runs
    target: str | None  # the series an upgrade goes to (None: no newer source here)
    repo: Path  # CACHE/repo, mounted read-only on every node


def next_series(release: str) -> str | None:
    """The series after the release's own, among the sources at hand."""
    mine = tuple(int(p) for p in build.series_of(release).split("."))
    later = sorted(
        {build.series_of(r) for r in build.available()
         if tuple(int(p) for p in build.series_of(r).split(".")) > mine},
        key=lambda s: tuple(int(p) for p in s.split(".")),
    )  # fmt: skip
    return later[0] if later else None


def prepare(version: str) -> Releases:
    """Build (or find in the cache) the lab's release and its upgrade target, and lay out
    the repository of each series."""
    release = build.parse_release(version)
    target = next_series(release)
    wanted = [release] + ([build.parse_release(target)] if target else [])
    repo = build.CACHE / "repo"
    for name in wanted:
        repo = repository.write_repository([build.ensure(name)])
    return Releases(release, target, repo)

"""`python -m onelab.real`: build (or find in the cache) every OpenNebula release
whose source is in ../shared/opennebula, and lay out the repository of each series."""

from __future__ import annotations

import sys
import time

from ..errors import LabError
from . import build, repository


def main() -> int:
    try:
        releases = build.available()
        if not releases:
            raise LabError(f"no OpenNebula source in {build.SOURCES}")
        for release in releases:
            started = time.monotonic()
            done = build.ensure(release)
            repository.write_repository([done])
            print(f"OpenNebula {release}: {done.stage} ({time.monotonic() - started:.0f}s)")
    except LabError as exc:
        print(f"python -m onelab.real: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

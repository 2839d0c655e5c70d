"""e2e: the real runbook in a subprocess against labs of real sshd nodes."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from onelab import Lab

pytestmark = pytest.mark.e2e

LabFactory = Callable[..., Lab]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[LabFactory]:
    """Each call builds a lab of its own; every lab is torn down after the test."""
    with ExitStack() as stack:
        count = 0

        def build(**options: object) -> Lab:
            nonlocal count
            count += 1
            lab = Lab.up(tmp_path / f"lab{count}", **options)  # type: ignore[arg-type]
            stack.callback(lab.down)
            return lab

        yield build


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path

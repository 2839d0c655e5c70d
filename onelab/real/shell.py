"""Commands on the real tier's nodes, as root over the lab's SSH: one that must succeed,
the same work on many nodes at once, and waiting for a state to be reached."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ..errors import LabError
from ..sim.spec import NodeSpec

UP_TIMEOUT = 180.0


class Runner(Protocol):
    def run(self, name: str, command: str, timeout: float = 30) -> tuple[int, str, str]: ...


def sh(lab: Runner, node: str, command: str, timeout: float = 60.0) -> str:
    """Run a command as root on a node; its stdout, or LabError with what it printed."""
    rc, out, err = lab.run(node, command, timeout=timeout)
    if rc != 0:
        text = " | ".join((err or out).strip().splitlines()[-4:])
        raise LabError(f"{node}: `{command[:80]}` exited {rc}: {text}")
    return out


def each(nodes: list[NodeSpec], work: Callable[[NodeSpec], None]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(work, n) for n in nodes]:
            future.result()


def wait(what: str, probe: Callable[[], bool], timeout: float = UP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (LabError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise LabError(f"real tier: {what} not reached after {timeout:.0f}s")
        time.sleep(1.0)

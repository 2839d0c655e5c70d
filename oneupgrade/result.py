"""What one command did on one node: the record every layer passes around."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    """What one command did on one node."""

    node: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    started: float
    duration: float
    mutating: bool = False
    planned: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def tail(self, stream: str = "stderr", lines: int = 10) -> str:
        text: str = getattr(self, stream)
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def __str__(self) -> str:
        parts = [f"{self.node} exited {self.exit_status}", f"  $ {self.command}"]
        for stream in ("stderr", "stdout"):
            body = self.tail(stream)
            if body:
                parts.append(f"  {stream} (last lines):")
                parts.extend(f"    {line}" for line in body.splitlines())
            else:
                parts.append(f"  {stream}: (empty)")
        return "\n".join(parts)

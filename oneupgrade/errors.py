"""The errors of the runbook, each written for the operator who reads it at 2 a.m."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oneupgrade.result import CommandResult


class RunbookError(Exception):
    """Base of every error the runbook raises on purpose."""


class ConnectionFailed(RunbookError):
    def __init__(self, node: str, reason: str) -> None:
        # a reason that names the node already ("fe1 (10.0.0.1:22): ...") is not prefixed
        super().__init__(reason if reason.startswith(f"{node} (") else f"{node}: {reason}")
        self.node = node
        self.reason = reason


class HostKeyRejected(ConnectionFailed):
    """The node's host key is unknown or differs from the pinned one."""


class AuthenticationFailed(ConnectionFailed):
    """The node refused our key (or sudo password)."""


class CommandFailed(RunbookError):
    def __init__(self, result: CommandResult) -> None:
        super().__init__(str(result))
        self.result = result


class CommandTimedOut(CommandFailed):
    def __init__(self, result: CommandResult, timeout: float) -> None:
        super().__init__(result)
        self.timeout = timeout
        self.args = (
            f"{result.node}: command killed at its deadline of {timeout:g} s\n  $ {result.command}",
        )


class ConnectionLost(CommandFailed):
    """The connection dropped while a command ran: its outcome is unknown."""

    def __init__(self, result: CommandResult, mutating: bool) -> None:
        super().__init__(result)
        what = (
            "it may or may not have taken effect; it is NOT re-run: rerun with --lf, "
            "which observes the node's state first"
            if mutating
            else "it was read-only"
        )
        self.args = (f"{result.node}: connection lost during\n  $ {result.command}\n  {what}",)


class Interrupted(RunbookError):
    """The run was interrupted (Ctrl-C): from then on no command starts."""

    def __init__(self, node: str) -> None:
        super().__init__(f"{node}: command not started: the run was interrupted")
        self.node = node


class PreconditionFailed(RunbookError):
    """The cluster is not in a state the procedure may start or go on from."""


class NodesFailed(RunbookError):
    """Work fanned out over several nodes failed on some of them."""

    def __init__(self, failures: dict[str, BaseException], done: list[str]) -> None:
        lines = [f"failed on {len(failures)} node(s): {', '.join(sorted(failures))}"]
        for node, exc in sorted(failures.items()):
            lines.append(f"- {node}: {exc}")
        if done:
            lines.append(f"completed on: {', '.join(sorted(done))}")
        super().__init__("\n".join(lines))
        self.failures = failures
        self.done = done

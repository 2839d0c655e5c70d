"""onecfg's configuration state, read as `onecfg status` reports it.

Exit codes (onecfg's lib/ee/config/versions.rb, and the Configuration Management
page): 0 no update available; 1 updates available, or a one-shot backup still to
process; 255 an error, named on an "ERROR:" line ("Unknown config version",
"Configurations metadata are outdated.", an unknown or unsupported version).
6.10 Community Edition's onecfg has no `status` at all (only `patch`).
"""

from __future__ import annotations

from oneupgrade.result import CommandResult
from oneupgrade.transport.node import Node

CONF = "/etc/onecfg.conf"  # onecfg's own state: versions, the backup to process


def status(node: Node) -> CommandResult | None:
    """`onecfg status`, or None where onecfg has no upgrade lifecycle (not installed; 6.10
    Community Edition's has only `patch`: its `status` prints the help, "Command 'status'
    not found", and exits 0)."""
    if not node.run("command -v onecfg", check=False).ok:
        return None
    result = node.run("onecfg status", check=False)
    if "command 'status' not found" in (result.stdout + result.stderr).lower():
        return None
    return result


def _error(result: CommandResult) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    return next((ln.strip() for ln in lines if ln.strip().startswith("ERROR")), "")


def unknown_version(result: CommandResult) -> bool:
    """The doc's "Unknown Configuration Version Error": no action is required, the
    upgrade initialises the version from the installed one."""
    return result.exit_status == 255 and "unknown config version" in _error(result).lower()


def before_the_stop(node: Node | str, result: CommandResult) -> tuple[list[str], list[str]]:
    """(refusals, notes) for `onecfg status` read before anything is upgraded: the
    configuration state must be clean, "with no pending migrations from previous or
    outdated configurations" (Upgrading Single Front-end, step 7)."""
    if result.exit_status == 0:
        return [], []
    if unknown_version(result):
        return [], [f"{node}: onecfg status: unknown config version; the upgrade initialises it"]
    error = _error(result)
    if result.exit_status == 255 and "outdated" in error.lower():
        return [
            f"{node}: onecfg status: {error} A configuration upgrade was skipped in an "
            "earlier OpenNebula upgrade: reinitialise the state with `onecfg init --force` "
            "(it discards the unprocessed configuration upgrades) and run again"
        ], []
    if result.exit_status == 1:
        pending = [ln.strip() for ln in result.stdout.splitlines() if ln.strip().startswith("- ")]
        what = "; ".join(pending) or "a backup still to process"
        return [
            f"{node}: onecfg status: configuration updates of an earlier upgrade are still "
            f"pending ({what}): finish them with `onecfg upgrade` (or `onecfg init --force` "
            "to discard them) before this upgrade"
        ], []
    tail = (result.stdout + result.stderr).strip().splitlines()
    why = error or (tail[-1] if tail else "no output")
    return [f"{node}: onecfg status exited {result.exit_status}: {why}: see onecfg's docs"], []

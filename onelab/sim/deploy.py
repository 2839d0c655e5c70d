"""The simulation installed on a node: this package (staged once per lab, byte-compiled,
hard-linked into each node), the simulated tools' wrappers and the sshd session."""

from __future__ import annotations

import compileall
import os
import shutil
import threading
from pathlib import Path

from .osrelease import DEB_TOOLS, RPM_TOOLS, is_rpm
from .upper import put, whiteout

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from .spec import NodeSpec

SIM_TOOLS = ["onezone", "onehost", "onevm", "onevnet", "onegroup", "onedb", "onecfg"]
WRAPPER = (
    "#!/usr/bin/python3 -IS\n"
    'import sys; sys.dont_write_bytecode = True; sys.path.insert(0, "/usr/lib/one-lab")\n'
    "from sim.main import main; sys.exit(main({tool!r}, sys.argv[1:]))\n"
)
# The sshd ForceCommand. Without any fault or latency set it runs the command
# directly: a Python start for every command of every session would cost ~20 ms.
SESSION = """#!/bin/sh
if [ -e /var/lib/one-lab/shared/rules-active ]; then
    exec /usr/bin/python3 -IS /usr/lib/one-lab/sim/session_main.py
fi
case "$SSH_ORIGINAL_COMMAND" in
    "") exec /bin/bash -l ;;
    internal-sftp|/usr/lib/openssh/sftp-server*) exec /usr/lib/openssh/sftp-server ;;
esac
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""


def _staged_package(stage: Path) -> Path:
    """One byte-compiled copy of this package per lab; nodes get hard links to it.

    Compiled once: without .pyc files every simulated command would recompile the
    package (~80 ms); linked: 200 nodes need no 200 copies.
    """
    with _STAGE_LOCK:
        if not (stage / "__init__.py").exists():
            _stage(stage)
    return stage


_STAGE_LOCK = threading.Lock()


def _stage(stage: Path) -> None:
    src = Path(__file__).resolve().parent
    tmp = stage.with_name(stage.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(str(tmp), quiet=1, ddir="/usr/lib/one-lab/sim")
    for dirpath, _dirnames, filenames in os.walk(tmp):
        os.chmod(dirpath, 0o755)  # noqa: S103
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    tmp.rename(stage)


def copy_package(upper: Path) -> None:
    dst = upper / "usr/lib/one-lab/sim"
    if dst.exists():
        shutil.rmtree(dst)
    # upper is DIR/nodes/<name>/upper: the staged copy lives in DIR, on the same file system
    stage = _staged_package(upper.parent.parent.parent / ".sim-package")
    try:
        shutil.copytree(stage, dst, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(stage, dst)


def install_tools(upper: Path, node: NodeSpec) -> None:
    """The package, a wrapper per simulated tool (the other family's package tools
    hidden) and the sshd session."""
    copy_package(upper)
    tools = ["systemctl"] + (RPM_TOOLS if is_rpm(node.os) else DEB_TOOLS)
    if node.frontend:
        tools = SIM_TOOLS + tools
    for tool in tools:
        put(upper, f"/usr/bin/{tool}", WRAPPER.format(tool=tool), 0o755)
    for tool in DEB_TOOLS if is_rpm(node.os) else RPM_TOOLS:
        whiteout(upper / "usr/bin" / tool)
    put(upper, "/usr/lib/one-lab/session", SESSION, 0o755)

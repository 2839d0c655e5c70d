"""Step 6 of the HA guide: the leader's database and configuration onto a follower.

The doc copies with scp and rsync from the leader; here the bytes travel through
the controller's two SSH connections, so the front-ends need no SSH trust between
them, and the backup's sha256 is checked on the follower before it is restored.
A tar stream always copies every file, where the doc's `rsync -r` (no -t, no -c)
skips a file whose size and mtime happen to equal the follower's copy.

Node-local addresses: the doc keeps each follower's SERVER_ID. A front-end whose
configuration names its own address (LISTEN_ADDRESS, monitord's NETWORK ADDRESS, the
hook manager's `-b`, OneGate's `:host:` bound to the node's IP rather than 0.0.0.0) would
get the leader's address from the copy: its oned cannot bind it, or its scheduler, hook
manager and OneGate talk to the leader's oned. So the files that name the follower's own
address are found before the first copy, and in them the leader's address is put back to
the follower's after it. A configuration bound to 0.0.0.0 names no address: nothing
changes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from oneupgrade.audit.journal import Journal
from oneupgrade.errors import PreconditionFailed
from oneupgrade.opennebula import config
from oneupgrade.opennebula.backups import BACKUP_DIR, ONEDB_TIMEOUT, Backup
from oneupgrade.transport.node import Node

# (parent directory, directory) pairs synchronised from the leader, as the doc's
# `rsync -r /etc/one root@follower:/etc` and `rsync -r .../remotes/etc ...:/var/lib/one/remotes`
SYNCED = (("/etc", "one"), ("/var/lib/one/remotes", "etc"))


def server_id(node: Node, journal: Journal) -> int:
    """The follower's own SERVER_ID, read once per campaign before anything overwrites it."""
    known = journal.fact(f"server_id/{node}")
    if known is not None:
        return int(known)
    value = config.server_id(node.read_file(config.ONED_CONF))
    if value is None:
        raise PreconditionFailed(f"{node}: no FEDERATION/SERVER_ID in {config.ONED_CONF}")
    journal.remember(f"server_id/{node}", value)
    return value


def restore_leader_backup(leader: Node, follower: Node, backup: Backup) -> str:
    """Copy the backup, verify its sha256 on the follower, then `onedb restore -f`."""
    data = b"" if leader.dry_run else leader.fetch(backup.path)
    path = f"{BACKUP_DIR}/{backup.path.rsplit('/', 1)[-1]}"
    follower.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
    follower.push(f"cat > {shlex.quote(path)}", data)
    if not follower.dry_run:
        seen = follower.run(f"sha256sum {shlex.quote(path)}").stdout.split()[0]
        if seen != backup.sha256:
            raise PreconditionFailed(
                f"{follower}: the copy of {leader}:{backup.path} has sha256 {seen}, "
                f"not {backup.sha256}: corrupted in transfer; the follower's database was "
                "NOT restored. Rerun to copy it again."
            )
    follower.run(f"onedb restore -f {shlex.quote(path)}", mutating=True, timeout=ONEDB_TIMEOUT)
    return path


def node_local_files(node: Node, journal: Journal) -> list[str]:
    """The files of SYNCED that name the node's own address, read once per campaign
    before anything overwrites them."""
    key = f"node_local_files/{node}"
    known = journal.fact(key)
    if known is not None:
        return list(known)
    dirs = " ".join(f"{p}/{n}" for p, n in SYNCED)
    found = node.run(f"grep -rlwF -- {shlex.quote(node.address)} {dirs}", check=False)
    files = sorted(line for line in found.stdout.splitlines() if line.startswith("/"))
    journal.remember(key, files)
    return files


def own_addresses(text: str, leader: Node, follower: Node) -> str:
    """`text` (a file of the leader's) with the leader's address as the follower's."""
    pattern = rf"(?<![\w.]){re.escape(leader.address)}(?![\w])"
    return re.sub(pattern, follower.address, text)


def sync_configuration(
    leader: Node, follower: Node, own_server_id: int, local_files: Sequence[str] = ()
) -> None:
    """The leader's /etc/one and remotes/etc over the follower's, SERVER_ID and the
    follower's own address (in `local_files`) put back."""
    for parent, name in SYNCED:
        stream = (
            b""
            if leader.dry_run
            else leader.fetch_output(f"tar -C {shlex.quote(parent)} -cf - {shlex.quote(name)}")
        )
        follower.push(f"tar -C {shlex.quote(parent)} -xpf -", stream)
    if follower.dry_run:
        # the synchronised file is the leader's: its SERVER_ID is written back
        follower.write_file(config.ONED_CONF, f"<leader's oned.conf, SERVER_ID = {own_server_id}>")
    else:
        text = follower.read_file(config.ONED_CONF)
        if config.server_id(text) != own_server_id:
            follower.write_file(config.ONED_CONF, config.with_server_id(text, own_server_id))
    if leader.address != follower.address:
        for path in local_files:
            # the copy made the follower's file the leader's (a dry run copied nothing)
            text = (leader if follower.dry_run else follower).read_file(path)
            mended = own_addresses(text, leader, follower)
            if mended != text:
                follower.write_file(path, mended)
    follower.run(
        "chown -R oneadmin:oneadmin " + " ".join(f"{p}/{n}" for p, n in SYNCED), mutating=True
    )


def configuration_problems(
    leader: Node, follower: Node, own_server_id: int, local_files: Sequence[str] = ()
) -> list[str]:
    """Why the follower's configuration is not the leader's plus its own SERVER_ID (and
    its own address in the files that named it)."""
    ours = follower.read_file(config.ONED_CONF)
    problems = []
    if config.server_id(ours) != own_server_id:
        problems.append(f"SERVER_ID is {config.server_id(ours)}, not its own {own_server_id}")
    theirs = leader.read_file(config.ONED_CONF)
    if config.ONED_CONF in local_files:
        theirs = own_addresses(theirs, leader, follower)
    diff = config.differences(theirs, ours)
    if diff:
        problems.append("oned.conf differs from the leader's beyond SERVER_ID:\n" + "\n".join(diff))
    owners = follower.run(
        "find " + " ".join(f"{p}/{n}" for p, n in SYNCED) + " ! -user oneadmin -print -quit",
        check=False,
    ).stdout.strip()
    if owners:
        problems.append(f"{owners} is not owned by oneadmin")
    return problems

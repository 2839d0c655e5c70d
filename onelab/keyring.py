"""The lab's keys as `up` writes them: the client key pair (DIR/id_ed25519), a host key
per node, DIR/known_hosts (the only keys the lab's clients trust) and the nodes' own
known_hosts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import keys
from .inventory_file import IDENTITY, KNOWN_HOSTS, known_hosts_text
from .node_ssh import NodeFiles, node_known_hosts


@dataclass(frozen=True)
class Keyring:
    """What the nodes are given: the client key pair and known_hosts, each node's host key
    pair (private, public line) by name, and the known_hosts of node-to-node ssh."""

    files: NodeFiles
    host_pairs: dict[str, tuple[bytes, str]]
    node_known: str


def write_keys(lab_dir: Path, base: str, peers: dict[str, str], port: int) -> Keyring:
    """New keys for the nodes `peers` (name -> address) of the lab whose range is `base`."""
    client_private, client_public = keys.new_ed25519(f"oneupgrade-lab@{base}")
    keys.write_private(lab_dir / IDENTITY, client_private)
    (lab_dir / f"{IDENTITY}.pub").write_text(client_public + "\n")
    host_pairs = {name: keys.new_ed25519(f"root@{name}") for name in peers}
    host_keys = {name: keys.public_blob(pair[1]) for name, pair in host_pairs.items()}
    (lab_dir / KNOWN_HOSTS).write_text(known_hosts_text(peers, host_keys, port))
    files = NodeFiles(
        client_private=client_private,
        client_public=client_public,
        known_hosts=(lab_dir / KNOWN_HOSTS).read_text(),
        port=port,
        peers=peers,
    )
    return Keyring(files, host_pairs, node_known_hosts(files, host_keys))

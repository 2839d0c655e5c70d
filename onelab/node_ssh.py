"""A node's SSH: its sshd's configuration and host key, its client's configuration for
node-to-node ssh as root, and root's key pair, authorized_keys and known_hosts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .overlay import mkdirs_like, write_file

SSHD_CONFIG = "/etc/ssh/sshd_config.lab"
HOST_KEY = "/etc/ssh/lab_host_ed25519_key"
SESSION = "/usr/lib/one-lab/session"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class NodeFiles:
    """What the lab hands every node: the client key pair and the lab's known_hosts."""

    client_private: bytes
    client_public: str
    known_hosts: str
    port: int
    peers: dict[str, str]  # name -> address of every node of the lab


def sshd_config(address: str, port: int, force_command: bool = True) -> str:
    lines = [
        f"ListenAddress {address}:{port}",
        f"HostKey {HOST_KEY}",
        "PidFile none",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AuthorizedKeysFile /root/.ssh/authorized_keys %h/.ssh/authorized_keys",
        "StrictModes no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "MaxSessions 100",
        "MaxStartups 200:30:400",
        "Subsystem sftp internal-sftp",
        f"SetEnv PATH={PATH}",
        "AcceptEnv LANG LC_*",
    ]
    if force_command:
        lines.append(f"ForceCommand {SESSION}")
    return "\n".join(lines) + "\n"


def ssh_client_config(address: str, files: NodeFiles) -> str:
    targets = " ".join([*files.peers.values(), *files.peers])
    return (
        "# lab: node-to-node ssh as root, like a real HA cluster\n"
        f"Host {targets}\n"
        f"    Port {files.port}\n"
        "Host *\n"
        f"    BindAddress {address}\n"
        "    StrictHostKeyChecking yes\n"
        "    BatchMode yes\n"
        "    GSSAPIAuthentication no\n"
    )


def node_known_hosts(files: NodeFiles, host_keys: dict[str, str]) -> str:
    """The nodes' known_hosts: each peer by address and by name."""
    return "".join(
        f"[{addr}]:{files.port},[{name}]:{files.port} {host_keys[name]}\n"
        for name, addr in files.peers.items()
    )


def write_sshd(
    upper: Path, address: str, files: NodeFiles, host_key: tuple[bytes, str], force_command: bool
) -> None:
    """The sshd's configuration and host key, and the ssh client's configuration."""
    ssh_dir = mkdirs_like(upper, "/", "etc/ssh")
    write_file(ssh_dir / "sshd_config.lab", sshd_config(address, files.port, force_command))
    write_file(ssh_dir / "lab_host_ed25519_key", host_key[0], 0o600)
    write_file(ssh_dir / "lab_host_ed25519_key.pub", host_key[1] + "\n")
    conf_d = mkdirs_like(upper, "/", "etc/ssh/ssh_config.d")
    write_file(conf_d / "lab.conf", ssh_client_config(address, files))


def write_root_ssh(upper: Path, files: NodeFiles, node_known: str) -> None:
    """root's ~/.ssh: the lab's client key pair, which it also accepts, and known_hosts."""
    dot_ssh = mkdirs_like(upper, "/", "root/.ssh", 0o700)
    write_file(dot_ssh / "id_ed25519", files.client_private, 0o600)
    write_file(dot_ssh / "id_ed25519.pub", files.client_public + "\n")
    write_file(dot_ssh / "authorized_keys", files.client_public + "\n", 0o600)
    write_file(dot_ssh / "known_hosts", node_known)

"""A node's accounts: the host's, root unlocked for sshd, `oneadmin` as OpenNebula's
packages make it, and the optional login user with sudo rights."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .overlay import mkdirs_like, write_file

ONEADMIN_ID = 9869
ONEADMIN_PASSWD = f"oneadmin:x:{ONEADMIN_ID}:{ONEADMIN_ID}:OpenNebula:/var/lib/one:/bin/bash"
LOGIN_ID = 1500
SUDOERS = "etc/sudoers.d/lab-admin"


@dataclass(frozen=True)
class Login:
    """A non-root login user on every node (home under /var/lib, which is overlaid) with
    sudo rights: without a password, or with one (`password_hash`, a crypt(3) string)."""

    name: str
    password_hash: str | None = None

    @property
    def home(self) -> str:
        return f"/var/lib/{self.name}"

    def sudoers(self) -> str:
        rule = "ALL=(ALL) ALL" if self.password_hash else "ALL=(ALL) NOPASSWD: ALL"
        return f"# lab: {self.name} becomes root with sudo\n{self.name} {rule}\n"


def account_file(
    host_path: str, extra: str, fix_root: bool = False, drop: tuple[str, ...] = ("oneadmin",)
) -> tuple[str, os.stat_result]:
    st = os.stat(host_path)
    with open(host_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    lines = [ln for ln in lines if ln.split(":", 1)[0] not in drop]
    if fix_root:  # sshd refuses a locked root ('!' password) even for public keys (UsePAM no)
        lines = ["root:*:" + ln.split(":", 2)[2] if ln.startswith("root:!") else ln for ln in lines]
    return "\n".join([*lines, extra]) + "\n", st


def write_accounts(etc: Path, login: Login | None) -> None:
    """passwd, group, shadow and gshadow: the host's, with oneadmin (and the login user)."""
    accounts = {
        "passwd": ONEADMIN_PASSWD,
        "group": f"oneadmin:x:{ONEADMIN_ID}:",
        "shadow": "oneadmin:*:20000:0:99999:7:::",
        "gshadow": "oneadmin:*::",
    }
    drop: tuple[str, ...] = ("oneadmin",)
    if login is not None:
        drop = ("oneadmin", login.name)
        # '*' (no password) rather than '!': sshd with UsePAM no refuses a locked account.
        accounts["passwd"] += f"\n{login.name}:x:{LOGIN_ID}:{LOGIN_ID}:lab:{login.home}:/bin/bash"
        accounts["group"] += f"\n{login.name}:x:{LOGIN_ID}:"
        accounts["shadow"] += f"\n{login.name}:{login.password_hash or '*'}:20000:0:99999:7:::"
        accounts["gshadow"] += f"\n{login.name}:*::"
    for fname, extra in accounts.items():
        text, st = account_file(f"/etc/{fname}", extra, fname == "shadow", drop)
        write_file(etc / fname, text, st.st_mode & 0o7777)
        os.chown(etc / fname, st.st_uid, st.st_gid)


def prepare_login(upper: Path, login: Login, client_public: str) -> None:
    home = mkdirs_like(upper, "/", login.home.lstrip("/"), 0o750)
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    write_file(dot_ssh / "authorized_keys", client_public + "\n", 0o600)
    write_file(home / ".bashrc", f"# lab login user {login.name}\n")
    for path in (home, dot_ssh, dot_ssh / "authorized_keys", home / ".bashrc"):
        os.chown(path, LOGIN_ID, LOGIN_ID)
    mkdirs_like(upper, "/", "etc/sudoers.d", 0o750)
    write_file(upper / SUDOERS, login.sudoers(), 0o440)


def password_hash(password: str) -> str:
    """A SHA-512 crypt(3) hash for /etc/shadow (the password goes to openssl on stdin)."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith("$6$"):
        raise LabError(f"openssl passwd failed: {done.stderr.strip()}")
    return done.stdout.strip()

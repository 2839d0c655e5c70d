"""The MySQL/MariaDB backend of a real-tier front-end (`up --db mysql`).

Each front-end runs its own MariaDB server (Debian's mariadb-server, installed on the
machine and so seen by every node through its overlays), as production HA front-ends
keep their database: a fresh data directory in the node's own /var/lib/mysql, listening
on the node's own address (and on the socket in the node's private /run), started by
the node's `systemctl` as the unit `mariadb`. The `opennebula` database and user are
made as OpenNebula's "MySQL/MariaDB Backend Setup" says.

oned.conf's DB section names the node's own address and port 3306, not `localhost`: the
nodes share one network stack, so no two servers can both listen on 127.0.0.1:3306, and
onedb runs `mysqldump -h SERVER -P PORT`, which MariaDB's clients take as TCP even for
`localhost` once a port is given (`-P 0` included). The runbook's step 6 keeps each
follower's own address in the files that named it, this section included. `down` stops
the server with the node's other processes, by pid.
"""

from __future__ import annotations

import secrets
import shlex

from ..sim.spec import NodeSpec

DB_NAME = "opennebula"
DB_USER = "oneadmin"
UNIT = "mariadb"
# The lab's own unit, in the node's /etc (which a unit of the same name in /lib yields
# to, as under systemd): Debian's runs galera_recovery and debian-start, which a node
# without systemd's tmpfiles and journal has no use for. The server is Debian's.
UNIT_FILE = """\
[Unit]
Description=MariaDB database server (the lab's front-end database)
After=network.target

[Service]
Type=notify
User=mysql
Group=mysql
ExecStart=/usr/sbin/mariadbd
TimeoutStartSec=120
TimeoutStopSec=120

[Install]
WantedBy=multi-user.target
"""
CONFIG = "/etc/mysql/mariadb.conf.d/90-one-lab.cnf"


def password() -> str:
    """The lab's database password: random, URL-safe (onedb quotes it as -p'...')."""
    return secrets.token_urlsafe(18)


def server_config(node: NodeSpec) -> str:
    # Small buffers: three servers share the machine. READ-COMMITTED is what OpenNebula's
    # setup guide asks for (its SET GLOBAL lasts only until a restart; this stays).
    return (
        "[mysqld]\n"
        f"bind-address = {node.address}\n"
        "port = 3306\n"
        "socket = /run/mysqld/mysqld.sock\n"
        "datadir = /var/lib/mysql\n"
        "skip-name-resolve\n"
        "transaction-isolation = READ-COMMITTED\n"
        "innodb_buffer_pool_size = 32M\n"
        "performance_schema = OFF\n"
    )


def setup_script(node: NodeSpec, secret: str) -> str:
    """A fresh server on the front-end, its database and OpenNebula's user (as root)."""
    sql = (
        f"CREATE DATABASE IF NOT EXISTS {DB_NAME};"
        f"CREATE USER IF NOT EXISTS '{DB_USER}' IDENTIFIED BY '{secret}';"
        f"GRANT ALL PRIVILEGES ON {DB_NAME}.* TO '{DB_USER}';"
        "SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED;"
    )
    return (
        "set -e\n"
        f"printf %s {shlex.quote(UNIT_FILE)} > /etc/systemd/system/{UNIT}.service\n"
        f"printf %s {shlex.quote(server_config(node))} > {CONFIG}\n"
        # the machine's own data directory shows through the overlay: the node starts anew
        "rm -rf /var/lib/mysql && install -d -o mysql -g mysql -m 755 /var/lib/mysql\n"
        # what Debian's tmpfiles.d/mariadb.conf makes at boot (the node's /run is its own)
        "install -d -o mysql -g mysql -m 755 /run/mysqld\n"
        "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db "
        "--auth-root-authentication-method=socket >/dev/null\n"
        f"systemctl enable -q {UNIT} && systemctl start {UNIT}\n"
        # the password goes on stdin, never on a command line
        "mariadb <<'SQL'\n" + sql + "\nSQL\n"
    )


def oned_db_section(secret: str, node: NodeSpec) -> str:
    """oned.conf's DB section for the front-end's own server (the sample oned.conf ships,
    filled in)."""
    return (
        'DB = [ BACKEND = "mysql",\n'
        f'       SERVER  = "{node.address}",\n'
        "       PORT    = 3306,\n"
        f'       USER    = "{DB_USER}",\n'
        f'       PASSWD  = "{secret}",\n'
        f'       DB_NAME = "{DB_NAME}",\n'
        "       CONNECTIONS = 25,\n"
        '       COMPARE_BINARY = "no" ]'
    )

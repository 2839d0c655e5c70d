"""The files under /etc/one: rendering at seed time and parsing at run time."""

from __future__ import annotations

from .catalogue import series_of, vkey

# oned.conf by its sections, as the packages ship it (FEDERATION's SERVER_ID and the
# RAFT hooks as the lab's HA set-up leaves them).
_DAEMON = """#*******************************************************************************
#                       OpenNebula Configuration file
#*******************************************************************************

#*******************************************************************************
# Daemon configuration attributes
#*******************************************************************************

LOG = [
  SYSTEM      = "file",
  DEBUG_LEVEL = 3
]

MONITORING_INTERVAL_HOST      = 180
MONITORING_INTERVAL_VM        = 180

SCRIPTS_REMOTE_DIR=/var/tmp/one

PORT = 2633

LISTEN_ADDRESS = "0.0.0.0"

DB = [ BACKEND = "mysql",
       SERVER  = "localhost",
       PORT    = 0,
       USER    = "oneadmin",
       PASSWD  = "oneadmin",
       DB_NAME = "opennebula",
       CONNECTIONS = 25,
       COMPARE_BINARY = "no" ]

VNC_PORTS = [
    START    = 5900,
    RESERVED = "32768:65536"
]

"""
_RAFT = """RAFT = [
    LIMIT_PURGE          = 100000,
    LOG_RETENTION        = 250000,
    LOG_PURGE_TIMEOUT    = 60,
    ELECTION_TIMEOUT_MS  = 5000,
    BROADCAST_TIMEOUT_MS = 500,
    XMLRPC_TIMEOUT_MS    = 1000
]

"""
_COSTS_AND_DATASTORES = """
DEFAULT_COST = [
    CPU_COST    = 0,
    MEMORY_COST = 0,
    DISK_COST   = 0
]

DATASTORE_LOCATION  = /var/lib/one/datastores
DATASTORE_CAPACITY_CHECK = "yes"
"""


def _federation(server_id: int) -> str:
    return f"""#*******************************************************************************
# Federation & HA configuration attributes
#*******************************************************************************

FEDERATION = [
    MODE          = "STANDALONE",
    ZONE_ID       = 0,
    SERVER_ID     = {server_id},
    MASTER_ONED   = ""
]

"""


def _raft_hooks(server_id: int, vip: str | None) -> str:
    if vip is not None and server_id >= 0:
        return (
            "# Executed when a server transits from follower->leader\n"
            "RAFT_LEADER_HOOK = [\n"
            '    COMMAND = "raft/vip.sh",\n'
            f'    ARGUMENTS = "leader eth0 {vip}/24"\n'
            "]\n\n"
            "# Executed when a server transits from leader->follower\n"
            "RAFT_FOLLOWER_HOOK = [\n"
            '    COMMAND = "raft/vip.sh",\n'
            f'    ARGUMENTS = "follower eth0 {vip}/24"\n'
            "]\n"
        )
    return (
        "# Executed when a server transits from follower->leader\n"
        "# RAFT_LEADER_HOOK = [\n"
        '#     COMMAND = "raft/vip.sh",\n'
        '#     ARGUMENTS = "leader interface ip_cidr [interface ip_cidr ...]"\n'
        "# ]\n"
    )


def oned_conf(server_id: int, vip: str | None) -> str:
    return (
        _DAEMON
        + _federation(server_id)
        + _RAFT
        + _raft_hooks(server_id, vip)
        + _COSTS_AND_DATASTORES
    )


def monitord_conf(release: str) -> str:
    """monitord.conf as the release ships it (src/monitor/etc/monitord.conf): 6.10 listens
    on "0.0.0.0", 7.0 and later on "::"."""
    address = "0.0.0.0" if release.startswith("6.") else "::"  # noqa: S104 - as shipped
    return f"""#*******************************************************************************
#                       OpenNebula Monitor Daemon Configuration file
#*******************************************************************************

LOG = [
  SYSTEM      = "file",
  DEBUG_LEVEL = 3
]

DB = [
    CONNECTIONS = 15
]

NETWORK = [
    ADDRESS = "{address}",
    MONITOR_ADDRESS = "auto",
    PORT    = 4124,
    THREADS = 8,
    PUBKEY  = "",
    PRIKEY  = ""
]

PROBES_PERIOD = [
    BEACON_HOST    = 30,
    SYSTEM_HOST    = 600,
    MONITOR_HOST   = 120,
    STATE_VM       = 5,
    MONITOR_VM     = 30,
    SYNC_STATE_VM  = 180
]
"""


def other_etc_files(release: str) -> dict[str, str]:
    files = {
        "oneflow-server.conf": (
            "---\n:host: 127.0.0.1\n:port: 2474\n:one_xmlrpc: http://localhost:2633/RPC2\n"
            ":lcm_interval: 30\n:default_cooldown: 300\n"
        ),
        "onegate-server.conf": (
            "---\n:host: 127.0.0.1\n:port: 5030\n:one_xmlrpc: http://localhost:2633/RPC2\n"
            ":auth: onegate\n"
        ),
        "fireedge-server.conf": (
            "host: '0.0.0.0'\nport: 2616\none_xmlrpc: 'http://localhost:2633/RPC2'\n"
            "guacd:\n  port: 4822\n  host: 'localhost'\n"
        ),
        "auth/ldap_auth.conf": (
            "server 1:\n    :auth_method: :simple\n    :host: localhost\n    :port: 389\n"
            "    :base: 'dc=domain'\n    :user_field: 'cn'\n:order:\n    - server 1\n"
        ),
    }
    if vkey(release) < (7, 0):
        files["sunstone-views.yaml"] = (
            "logo: images/opennebula-5.0.png\n"
            "groups:\n    oneadmin:\n        - admin\n"
            "default:\n    - cloud\n"
            # as 6.10 ships it: an empty value (7.0.0's migrator fails on it)
            "labels_groups:\n    default:\n"
        )
    return files


def remotes_etc_files() -> dict[str, str]:
    return {
        "vmm/kvm/kvmrc": (
            "export LIBVIRT_URI=qemu:///system\n"
            "export QEMU_PROTOCOL=qemu+ssh\n"
            "export SHUTDOWN_TIMEOUT=300\n"
            "export DEFAULT_ATTACH_CACHE=none\n"
        ),
        "im/kvm-probes.d/probe_db.conf": (
            "DB_PATH=/var/tmp/one_db\nSYNC_STATE_VM=180\nMISSING_STATE=POWEROFF\n"
        ),
        "vnm/OpenNebulaNetwork.conf": ":arp_cache_poisoning: true\n:validate_vlan_id: false\n",
    }


def onecfg_conf(config_version: str) -> str:
    """As onecfg's Settings#save writes it: the YAML of a hash with string keys."""
    return f"---\nversion: {config_version}\n"


def onecfg_version(text: str) -> str | None:
    import re  # here: `re` costs ~6 ms of every simulated command's start-up

    m = re.search(r"^:?version:\s*['\"]?([0-9.]+)", text, re.M)
    return m.group(1) if m else None


def onecfg_outdated(text: str) -> bool:
    import re

    return re.search(r"^:?outdated:\s*true\s*$", text, re.M) is not None


# --------------------------------------------------------------------- parsing


def _vector(text: str, name: str) -> dict[str, str] | None:
    import re  # here: `re` costs ~6 ms of every simulated command's start-up

    clean = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    m = re.search(rf"^\s*{name}\s*=\s*\[(.*?)\]", clean, re.M | re.S)
    if not m:
        return None
    out: dict[str, str] = {}
    for km in re.finditer(r"(\w+)\s*=\s*(\"[^\"]*\"|[^,\s\]]+)", m.group(1)):
        out[km.group(1).upper()] = km.group(2).strip('"')
    return out


def server_id(text: str) -> int:
    """FEDERATION/SERVER_ID; ValueError when missing or not an integer."""
    fed = _vector(text, "FEDERATION")
    if fed is None or "SERVER_ID" not in fed:
        raise ValueError("FEDERATION/SERVER_ID not found")
    return int(fed["SERVER_ID"])


def db_section(text: str) -> dict[str, str]:
    db = _vector(text, "DB") or {}
    db.setdefault("BACKEND", "sqlite")
    db.setdefault("SERVER", "localhost")
    db.setdefault("DB_NAME", "opennebula")
    return db


def series_label(release: str) -> str:
    return series_of(release)

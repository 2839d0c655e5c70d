"""A front-end's configuration bound to its own address: oned, monitord (the dummy
drivers enabled), the hook manager, the scheduler, OneGate, OneFlow and the CLI's
endpoint; its SERVER_ID in oned.conf."""

from __future__ import annotations

import shlex

from ..sim.spec import NodeSpec
from .shell import Runner, sh

ENDPOINT = "http://{address}:2633/RPC2"

# The program the front-end's python3 runs: {a} is its address, {url} its endpoint and
# {db_section!r} the DB section for MySQL (None: SQLite, oned.conf's own).
EDITS = """
import re, pathlib
def edit(path, *subs):
    p = pathlib.Path(path)
    if not p.exists():
        return
    text = p.read_text()
    for pattern, repl in subs:
        text = re.sub(pattern, repl, text, flags=re.M)
    p.write_text(text)
def uncomment(path, first, back=0):
    # the commented block whose line matches `first` (from `back` lines before it) to its ]
    p = pathlib.Path(path)
    lines = p.read_text().split("\\n")
    i = next(n for n, ln in enumerate(lines) if re.match(first, ln)) - back
    while True:
        lines[i] = re.sub(r"^#", "", lines[i])
        if "]" in lines[i]:
            break
        i += 1
    p.write_text("\\n".join(lines))
edit("/etc/one/oned.conf",
     (r'^LISTEN_ADDRESS\\s*=.*$', 'LISTEN_ADDRESS = "{a}"'),
     (r'^#?\\s*HOSTNAME\\s*=.*$', 'HOSTNAME = "{a}"'),
     (r'-b 127\\.0\\.0\\.1', '-b {a}'),
     # 7.2's gRPC API (the lab builds grpc=no, so nothing listens; bound all the same)
     (r'^GRPC_LISTEN_ADDRESS\\s*=.*$', 'GRPC_LISTEN_ADDRESS = "{a}"'))
uncomment("/etc/one/oned.conf", r'#VM_MAD = \\[ NAME="dummy"')
DB_SECTION = {db_section!r}
if DB_SECTION:
    edit("/etc/one/oned.conf", (r'^DB\\s*=\\s*\\[[^\\]]*\\]', lambda m: DB_SECTION))
# 6.10 ships ADDRESS = "0.0.0.0", 7.0 and later "::" (which takes port 4124 on every
# address of the machine): either is bound to the node's own address
edit("/etc/one/monitord.conf",
     (r'^(\\s*)ADDRESS(\\s*)= "(0\\.0\\.0\\.0|::)"', r'\\1ADDRESS\\2= "{a}"'),
     # the lab's choice: a host result every 10 s rather than 120 s, so that a check for
     # a fresh result after an upgrade waits seconds, not minutes; a host silent for 60 s
     # (not 180 s) gets its probes restarted. Not less: on a loaded machine a result can
     # come late, and a restart that fails puts the host in ERROR and its dummy VMs in
     # UNKNOWN for good (the dummy driver reports no VM state to bring them back)
     (r'^(\\s*)MONITOR_HOST(\\s*)=\\s*\\d+', r'\\1MONITOR_HOST\\2= 10'),
     (r'^#?MONITORING_INTERVAL_HOST(\\s*)=\\s*\\d+', r'MONITORING_INTERVAL_HOST\\1= 60'))
uncomment("/etc/one/monitord.conf", r'#\\s*NAME\\s*= "dummy"', back=1)
edit("/etc/one/sched.conf", (r'^ONE_XMLRPC\\s*=.*$', 'ONE_XMLRPC = "{url}"'))
edit("/etc/one/onehem-server.conf", (r'tcp://localhost:', 'tcp://{a}:'))
for name in ("onegate-server.conf", "oneflow-server.conf"):
    edit("/etc/one/" + name, (r'^:host:.*$', ':host: {a}'),
         (r'^:one_xmlrpc:.*$', ':one_xmlrpc: {url}'))
"""


def configure_script(node: NodeSpec, db_section: str | None = None) -> str:
    """The edits that bind one front-end's services to its own address (and point oned.conf
    at the MySQL backend, `db_section`, when there is one)."""
    a = node.address
    url = ENDPOINT.format(address=a)
    py = EDITS.format(a=a, url=url, db_section=db_section)
    return (
        f"python3 - <<'EOF'\n{py}\nEOF\n"
        "install -d -o oneadmin -g oneadmin -m 700 /var/lib/one/.one\n"
        "install -d -m 700 /root/.one && cp /var/lib/one/.one/one_auth /root/.one/one_auth\n"
        f"echo {shlex.quote(url)} > /var/lib/one/.one/one_endpoint\n"
        "chown oneadmin:oneadmin /var/lib/one/.one/one_endpoint\n"
        "install -o oneadmin -g oneadmin -m 600 /root/.ssh/known_hosts "
        "/var/lib/one/.ssh/known_hosts\n"
    )


def set_server_id(lab: Runner, node: str, server_id: int) -> None:
    sh(lab, node, f"sed -i -E 's/^(\\s*SERVER_ID\\s*=\\s*)-?[0-9]+/\\1{server_id}/' "
                  "/etc/one/oned.conf")  # fmt: skip

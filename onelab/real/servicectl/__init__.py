"""A small systemctl for lab nodes that run real programs but have no systemd.

It reads real unit files (.service, .timer, .target), runs their Exec* lines as real
processes and keeps per-unit state in /run/one-lab/units/<unit>.json. Main processes get
their own session, /dev/null stdin and the unit log as stdout/stderr, so that they outlive
the SSH session that started them. Timers are only marked active ("waiting"): nothing is
ever scheduled. Not supported: Restart=, sockets, cgroups (a unit's processes are its main
process's session), unit specifiers (%n...), drop-ins, templates, ExecReload.
Every path of this tool's own (unit dirs, state, logs) is prefixed by $ONE_LAB_ROOT if set;
paths inside unit files are the units' own and are used as written.

The lab copies this package into every real-tier node at /usr/lib/one-lab/servicectl/
and runs it as the node's /usr/bin/systemctl with the system interpreter (standard
library only, relative imports only).
"""

"""`python -m onelab up|down|status|fault|vm|node|elect`: errors are one line, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import NoReturn

import yaml

from . import holders
from .errors import LabError
from .lab import Lab, down
from .options import DATABASES, HYPERVISORS, OSES, TIERS, parse_latencies

PROG = "python -m onelab"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser() -> Parser:
    p = Parser(prog=PROG, description="A simulated OpenNebula HA cluster of real sshd nodes.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=Parser)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument("--dir", required=True, type=Path, help="the lab directory")
        return c

    up = cmd("up", "build and start a lab; prints the inventory path last")
    _cluster_arguments(up)
    _login_arguments(up)
    _tier_arguments(up)
    up.add_argument(
        "--jump",
        action="store_true",
        help="nodes reachable only through an extra node jump1 (DIR/ssh_config, ProxyJump)",
    )

    cmd("down", "stop every process of the lab")
    status = cmd("status", "nodes, zone, hosts and VMs of the lab")
    status.add_argument("--json", action="store_true")

    _fault_arguments(cmd("fault", "inject a fault on a node, or clear faults"))

    vm = cmd("vm", "hold a VM in an LCM state for some seconds")
    vm.add_argument("--id", type=int, required=True, metavar="N")
    vm.add_argument("--lcm-state", default="MIGRATE")
    vm.add_argument("--for", dest="seconds", type=float, required=True, metavar="SECONDS")

    node = cmd("node", "stop or start a node's sshd (and its sessions)")
    node.add_argument("action", choices=("stop", "start"))
    node.add_argument("name")

    elect = cmd("elect", "force a raft election (optionally of a given leader)")
    elect.add_argument("--node", metavar="NAME")
    return p


def _cluster_arguments(up: argparse.ArgumentParser) -> None:
    """up's cluster: its nodes, release, OS, addresses, latencies and VMs."""
    up.add_argument("--frontends", type=int, default=3, metavar="N", help="1..7 (default 3)")
    up.add_argument("--hypervisors", type=int, default=2, metavar="M", help="0..200 (default 2)")
    up.add_argument("--version", default="6.10", metavar="V", help="release (default 6.10)")
    up.add_argument("--os", default="debian12", choices=OSES)
    up.add_argument("--port", type=int, default=2222, metavar="P", help="sshd port (2222)")
    up.add_argument("--base-address", metavar="127.X.Y.0", help="default: first free range")
    up.add_argument("--latency", default="", metavar="'CMD=SECONDS,...'")
    up.add_argument("--vms", type=int, metavar="K", help="default: one per hypervisor")
    up.add_argument("--hypervisor", default="kvm", choices=HYPERVISORS)


def _login_arguments(up: argparse.ArgumentParser) -> None:
    """up's login user, who becomes root with sudo."""
    up.add_argument(
        "--login-user", metavar="USER", help="log in as USER (sudo to root) instead of root"
    )
    up.add_argument(
        "--sudo-password",
        metavar="PASSWORD",
        help="USER's sudo password (default: sudo without one); the inventory reads it "
        "from $ONEUPGRADE_SUDO_PASSWORD",
    )


def _tier_arguments(up: argparse.ArgumentParser) -> None:
    """up's OpenNebula: the simulation or the real tier, and the real tier's database."""
    up.add_argument(
        "--opennebula",
        default="sim",
        choices=TIERS,
        help="sim: the simulated OpenNebula (default); real: OpenNebula built from the "
        "upstream source, installed with apt on Debian 12 nodes (the first build takes minutes)",
    )
    up.add_argument(
        "--db",
        default="sqlite",
        choices=DATABASES,
        help="the real tier's database: sqlite (default) or mysql (a MariaDB server on each "
        "front-end, on its own address, the opennebula database and user made as OpenNebula's "
        "install guide does)",
    )


def _fault_arguments(fault: argparse.ArgumentParser) -> None:
    fault.add_argument("--node", metavar="NAME")
    fault.add_argument("--command", metavar="PATTERN")
    fault.add_argument("--clear", action="store_true")
    times = fault.add_mutually_exclusive_group()
    times.add_argument("--times", type=int, default=1, metavar="N")
    times.add_argument("--always", action="store_true")
    action = fault.add_mutually_exclusive_group()
    action.add_argument("--exit-code", type=int, default=1, metavar="C")
    action.add_argument("--hang", action="store_true")
    action.add_argument("--drop", action="store_true")
    action.add_argument(
        "--corrupt", action="store_true", help="flip one byte of what the command reads on stdin"
    )


def run(args: argparse.Namespace) -> None:
    if args.cmd == "up":
        _up(args)
        return
    if args.cmd == "down":
        count = down(args.dir)
        print(f"stopped {count} node namespace(s) of {args.dir}")
        return
    lab = Lab.open(args.dir)
    if args.cmd == "status":
        report = lab.status()
        if args.json:
            print(json.dumps(report, indent=1, sort_keys=True))
        else:
            print(yaml.safe_dump(report, sort_keys=False, default_flow_style=False), end="")
    elif args.cmd == "fault":
        _fault(lab, args)
    elif args.cmd == "vm":
        lab.hold_vm(args.id, args.lcm_state, args.seconds)
    elif args.cmd == "node":
        if args.action == "stop":
            lab.stop_node(args.name)
        else:
            lab.start_node(args.name)
    elif args.cmd == "elect":
        lab.elect(args.node)


def _up(args: argparse.Namespace) -> None:
    started = time.monotonic()
    lab = Lab.up(
        args.dir,
        frontends=args.frontends,
        hypervisors=args.hypervisors,
        version=args.version,
        os=args.os,
        latencies=parse_latencies(args.latency) or None,
        port=args.port,
        base_address=args.base_address,
        vms=args.vms,
        hypervisor=args.hypervisor,
        login_user=args.login_user,
        sudo_password=args.sudo_password,
        jump=args.jump,
        opennebula=args.opennebula,
        db=args.db,
    )
    holders.keep(lab.dir)  # the user's lab, kept until `down`
    nodes = lab.nodes
    first, last = next(iter(nodes.values())), list(nodes.values())[-1]
    print(
        f"lab {lab.info['cluster']}: {len(nodes)} nodes ({first}..{last}:{lab.port}), "
        f"release {lab.info['release']}, up in {time.monotonic() - started:.2f}s"
    )
    print(lab.inventory_path)


def _fault(lab: Lab, args: argparse.Namespace) -> None:
    if args.clear:
        if args.command:
            raise LabError("--clear takes no --command")
        lab.clear_faults(args.node)
        return
    if not args.node or not args.command:
        raise LabError("fault needs --node and --command (or --clear)")
    act = "hang" if args.hang else "drop" if args.drop else "corrupt" if args.corrupt else "exit"
    times = None if args.always else args.times
    if times is not None and times < 1:
        raise LabError("--times must be >= 1")
    lab.fault(args.node, args.command, times=times, action=act, exit_code=args.exit_code)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except LabError as exc:
        print(f"{PROG} {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.cmd}: interrupted", file=sys.stderr)
        return 2
    except Exception as exc:  # one clear line, never a traceback
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{PROG} {args.cmd}: error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 2
    return 0

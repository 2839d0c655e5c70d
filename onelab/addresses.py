"""Choosing a free 127.0.X.0/24 for a lab, serialised by an abstract unix socket lock.

A range is free when nothing listens on any of its addresses (read from /proc/net/tcp and
/proc/net/tcp6). Between choosing a range and its sshds listening, the allocating process
holds a placeholder listener on the range's .254, so a concurrent `up` sees it as taken;
nothing is written on the host, and a killed process releases both lock and placeholder.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

from .errors import LabError

LOCK_NAME = b"\0oneupgrade-lab-alloc"
FIRST_OCTET, LAST_OCTET = 10, 254
PLACEHOLDER_HOST = 254
VIP_HOST = 250
FRONTEND_BASE, HYPERVISOR_BASE = 1, 11
MAX_FRONTENDS, MAX_HYPERVISORS = 7, 200
WILDCARD = "0.0.0.0"  # noqa: S104 - read from /proc/net/tcp, never bound


@dataclass(frozen=True)
class Range:
    """One lab's /24 of loopback addresses, written as its network prefix '127.X.Y'."""

    prefix: str

    def host(self, n: int) -> str:
        return f"{self.prefix}.{n}"

    @property
    def base(self) -> str:
        return f"{self.prefix}.0"

    @property
    def vip(self) -> str:
        return self.host(VIP_HOST)

    @property
    def third_octet(self) -> int:
        return int(self.prefix.rsplit(".", 1)[1])


def frontend_address(rng: Range, index: int) -> str:
    """Address of front-end `index` (1-based): .1 .. .7."""
    return rng.host(FRONTEND_BASE + index - 1)


def hypervisor_address(rng: Range, index: int) -> str:
    """Address of hypervisor `index` (1-based): .11 .. .210."""
    return rng.host(HYPERVISOR_BASE + index - 1)


def parse_base(text: str) -> Range:
    """'127.X.Y.0' -> Range('127.X.Y'); anything else is a LabError."""
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        raise LabError(f"--base-address {text!r} is not an IPv4 address") from None
    parts = text.split(".")
    if parts[0] != "127" or parts[3] != "0" or not addr.is_loopback:
        raise LabError(f"--base-address {text!r} must look like 127.X.Y.0")
    return Range(".".join(parts[:3]))


def _ipv4_from_hex(hexaddr: str) -> str:
    return socket.inet_ntoa(bytes.fromhex(hexaddr)[::-1])


def listeners() -> set[tuple[str, int]]:
    """(IPv4 address, port) of every listening TCP socket; IPv6 wildcards map to WILDCARD."""
    found: set[tuple[str, int]] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":
                continue
            hexaddr, hexport = fields[1].split(":")
            port = int(hexport, 16)
            if len(hexaddr) == 8:
                found.add((_ipv4_from_hex(hexaddr), port))
            elif hexaddr == "0" * 32:
                found.add((WILDCARD, port))
            elif hexaddr.startswith("0000000000000000FFFF0000"):
                found.add((_ipv4_from_hex(hexaddr[24:]), port))
    return found


def range_is_free(rng: Range, taken: set[tuple[str, int]]) -> bool:
    return not any(addr.startswith(rng.prefix + ".") for addr, _ in taken)


def check_port(port: int, taken: set[tuple[str, int]]) -> None:
    if (WILDCARD, port) in taken:
        raise LabError(f"port {port} is taken on every address by another server; choose --port")


class AllocLock:
    """A host-wide mutex without files: an abstract unix socket only one process can bind."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def __enter__(self) -> AllocLock:
        deadline = time.monotonic() + self.timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(LOCK_NAME)
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise LabError(
                        "timed out waiting for the lab address allocation lock"
                    ) from None
                time.sleep(0.02)
                continue
            self.sock = sock
            return self

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _placeholder(rng: Range, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((rng.host(PLACEHOLDER_HOST), port))
        sock.listen(1)
    except OSError as exc:
        sock.close()
        raise LabError(f"cannot reserve {rng.base}/24 on port {port}: {exc}") from None
    return sock


def allocate(port: int, base: str | None = None) -> tuple[Range, socket.socket]:
    """Pick a free range (or check the one given) and reserve it with a placeholder listener.

    The caller closes the returned socket once its sshds listen.
    """
    with AllocLock():
        taken = listeners()
        check_port(port, taken)
        if base is not None:
            rng = parse_base(base)
            if not range_is_free(rng, taken):
                raise LabError(f"{rng.base}/24 is in use (something listens on it)")
            return rng, _placeholder(rng, port)
        for octet in range(FIRST_OCTET, LAST_OCTET + 1):
            rng = Range(f"127.0.{octet}")
            if range_is_free(rng, taken):
                return rng, _placeholder(rng, port)
    raise LabError("no free 127.0.X.0/24 range left for a lab")

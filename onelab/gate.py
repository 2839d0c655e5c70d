"""The jump node's gate: the only way into a lab whose nodes sit behind a jump host.

Run by the lab as `unshare --net python3 -I gate.py FD ADDRESS PORT LABDIR`: FD is a
socket listening on ADDRESS:PORT in the host's network namespace, inherited; this
process then lives in a new network namespace (its loopback brought up) where every
node of the lab listens, and forwards each connection accepted on FD to ADDRESS:PORT
there, which is the jump node's sshd. The other nodes listen only in that namespace:
from the host, nothing answers on their addresses. Standard library only.
"""

import socket
import subprocess
import sys
import threading


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client: socket.socket, address: str, port: int) -> None:
    try:
        inner = socket.create_connection((address, port), timeout=10)
    except OSError:
        client.close()
        return
    inner.settimeout(None)
    for s in (client, inner):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(inner, client), daemon=True)
    back.start()
    pump(client, inner)
    back.join()
    client.close()
    inner.close()


def main() -> int:
    fd, address, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    listener = socket.socket(fileno=fd)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdout.close()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, address, port), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

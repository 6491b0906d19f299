"""Child processes that listen on loopback: free ports, dying with the parent, a broker probe."""

from __future__ import annotations

import ctypes
import signal
import socket
import struct

HOST = "127.0.0.1"

try:  # resolved here: the child between fork and exec must not import anything
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this child when the thread that started it ends (a no-op elsewhere).

    Linux ties this to the thread that forked: start long-lived children from the main thread."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_loopback_port() -> int:
    return free_loopback_ports(1)[0]


def free_loopback_ports(n: int) -> list[int]:
    """`n` distinct ports free on loopback right now (all held open until each is chosen)."""
    socks = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def answers_kafka(port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka broker on loopback `port` answers an ApiVersions request, which brokers
    answer before any SASL sign-in, so this probes a broker that requires one too."""
    correlation_id = 0x5049434B
    client_id = b"picket-probe"
    request = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id  # ApiVersions v0
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            body = _recv_exactly(sock, size)
        got_id, error = struct.unpack_from(">ih", body)
    except (OSError, ConnectionError, struct.error):
        return False
    return got_id == correlation_id and error == 0


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)

"""The webhook transport checks the address it connects to (`picket.hooks.guarded`): a name
that passed `check_url` and then resolves to a private address (DNS rebinding) is refused at
the connection, before a byte is sent; an allowed one is connected to at the address checked,
with the URL's host name kept for the Host header and for TLS (SNI and certificate)."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from picket.hooks import urls
from picket.hooks.guarded import GuardedBackend, guarded_transport
from picket.hooks.urls import check_url

LIMITS = httpx.Limits(max_connections=2, max_keepalive_connections=2)
PUBLIC = "93.184.215.14"


def resolver(table: dict[str, list[str]]) -> Any:
    """getaddrinfo answering from `table` (and counting the names asked for)."""
    def resolve(host: str, port: int) -> list[Any]:
        resolve.asked.append(host)  # type: ignore[attr-defined]
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]

    resolve.asked = []  # type: ignore[attr-defined]
    return resolve


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.received.append((self.headers["host"], body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def serve(tls: ssl.SSLContext | None = None) -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []  # type: ignore[attr-defined]
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver() -> Iterator[http.server.HTTPServer]:
    yield from serve()


def post(url: str, backend: GuardedBackend, ssl_context: ssl.SSLContext | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = guarded_transport(LIMITS, backend, ssl_context)
        async with httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False) as client:
            return await client.post(url, content=b"payload")

    return asyncio.run(run())


def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_the_connection(
        receiver: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    port = receiver.server_address[1]
    url = f"http://rebind.test:{port}/hook"
    # The check sees a public address...
    monkeypatch.setattr(urls.socket, "getaddrinfo", lambda host, *a, **k: resolver({host: [PUBLIC]})(host, port))
    assert check_url(url, allow_private=False) is None
    # ...the connection, a moment later, a loopback one.
    with pytest.raises(httpx.ConnectError, match="resolves to 127.0.0.1, a loopback address"):
        post(url, GuardedBackend(resolve=resolver({"rebind.test": ["127.0.0.1"]})))
    assert receiver.received == [], "nothing reached the private address"


def test_an_allowed_name_is_connected_to_at_the_address_checked_with_its_host_header(
        receiver: http.server.HTTPServer) -> None:
    port = receiver.server_address[1]
    resolve = resolver({"hooks.example": ["127.0.0.1"]})
    backend = GuardedBackend(resolve=resolve, forbidden=lambda address: None)  # a policy that allows loopback
    assert post(f"http://hooks.example:{port}/hook", backend).status_code == 204
    assert receiver.received == [(f"hooks.example:{port}", b"payload")]
    assert resolve.asked == ["hooks.example"], "resolved once, by the backend"


@pytest.mark.parametrize("host, table, detail", [
    ("mixed.test", {"mixed.test": [PUBLIC, "10.0.0.7"]}, "resolves to 10.0.0.7, a private address"),
    ("v6.test", {"v6.test": ["::ffff:127.0.0.1"]}, "an IPv6 address wrapping 127.0.0.1"),
    ("127.0.0.1", {}, "The host 127.0.0.1 is a loopback address"),
    ("169.254.169.254", {}, "The host 169.254.169.254 is a link-local address"),
    ("nowhere.test", {}, "does not resolve"),
    ("empty.test", {"empty.test": []}, "resolves to no usable address"),
])
def test_every_address_is_checked_and_a_literal_one_is_not_resolved(host: str, table: dict, detail: str) -> None:
    resolve = resolver(table)
    with pytest.raises(httpcore.ConnectError, match=detail.replace(".", r"\.")):
        asyncio.run(GuardedBackend(resolve=resolve).address(host, 80))
    if host[0].isdigit():
        assert resolve.asked == []


def test_a_public_name_gives_its_first_address() -> None:
    resolve = resolver({"ok.test": [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    assert asyncio.run(GuardedBackend(resolve=resolve).address("ok.test", 443)) == ipaddress.ip_address(PUBLIC)


def test_unix_sockets_are_refused() -> None:
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(GuardedBackend().connect_unix_socket("/tmp/socket"))


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_verifies_and_names_the_urls_host_not_the_address_connected_to(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "hooks.example")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_side.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    trusting = ssl.create_default_context(cafile=str(cert))
    backend = GuardedBackend(resolve=resolver({"hooks.example": ["127.0.0.1"]}), forbidden=lambda address: None)
    for server in serve(server_side):
        port = server.server_address[1]
        assert post(f"https://hooks.example:{port}/hook", backend, trusting).status_code == 204
        assert names == ["hooks.example"]
        # The certificate names hooks.example, not the address: verified against the host name.
        with pytest.raises(httpx.ConnectError):
            post(f"https://127.0.0.1:{port}/hook", backend, trusting)

"""Which URLs a webhook may be sent to: checked when a hook or app is made and again right before
every delivery (what a name resolves to can change in between).

`check_url(url, allow_private=...)` is None for an acceptable URL, else one sentence saying why
not: the scheme must be http or https, the URL must name a host, carry no credentials and be at
most 2048 characters. Unless private addresses are allowed (`PICKET_HOOKS_ALLOW_PRIVATE=1`, for
receivers on the operator's own network), the host must be no address, and resolve to no address,
that is loopback, private, link-local, multicast, reserved, unspecified or otherwise not global
(shared CGNAT space included) — nor one of those behind an IPv4-mapped, 6to4, Teredo or NAT64
IPv6 address. Every address a name resolves to is checked, not only the first.

A name that resolves to a public address here and to a private one a moment later, when the
HTTP client resolves it again (DNS rebinding with a short TTL), is caught at the connection:
the deliverer connects through `picket.hooks.guarded`, which checks the address it connects to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_LENGTH = 2048
SCHEMES = ("http", "https")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], list[Any]]  # socket.getaddrinfo's shape: (family, type, proto, name, (address, port, …))


def check_url(url: str, *, allow_private: bool) -> str | None:
    """None if a webhook may be sent to `url`, else the reason it may not (one sentence)."""
    if len(url) > MAX_LENGTH:
        return f"The URL is longer than {MAX_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "The URL contains whitespace or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"The URL is malformed ({exc})."
    if parts.scheme.lower() not in SCHEMES:
        return "The URL's scheme must be http or https."
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        return "The URL must not carry credentials."
    host = parts.hostname
    if not host:
        return "The URL names no host."
    if allow_private:
        return None
    found = address_for(host, port or (443 if parts.scheme.lower() == "https" else 80))
    return found if isinstance(found, str) else None


def _getaddrinfo(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def address_for(host: str, port: int, *, resolve: Resolve | None = None,
                forbidden: Callable[[Address], str | None] | None = None) -> Address | str:
    """The address a webhook to `host` may connect to (its first, once every address it resolves
    to passed `forbidden`), or why there is none (one sentence). An IP address is not resolved."""
    forbidden = forbidden or forbidden_address
    literal = literal_address(host)
    if literal is not None:
        problem = forbidden(literal)
        return literal if problem is None else f"The host {host} is {problem}."
    try:
        found = (resolve or _getaddrinfo)(host, port)
    except (UnicodeError, OSError) as exc:  # socket.gaierror is an OSError
        return f"The host {host} does not resolve ({exc})."
    addresses = [literal_address(str(info[4][0])) for info in found]
    if not addresses or None in addresses:
        return f"The host {host} resolves to no usable address."
    for address in sorted(set(addresses), key=str):  # type: ignore[arg-type]
        problem = forbidden(address)  # type: ignore[arg-type]
        if problem is not None:
            return f"The host {host} resolves to {address}, {problem}."
    return addresses[0]  # type: ignore[return-value]


def literal_address(host: str) -> Address | None:
    """`host` as an IP address if it is one (an IPv6 zone index is dropped)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def forbidden_address(address: Address) -> str | None:
    """Why a webhook may not go to `address` ("a private address", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = forbidden_address(embedded)
            return None if inner is None else f"an IPv6 address wrapping {embedded}, {inner}"
    for test, what in (("is_unspecified", "the unspecified address"), ("is_loopback", "a loopback address"),
                       ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
                       ("is_reserved", "a reserved address"), ("is_private", "a private address")):
        if getattr(address, test):
            return what
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None

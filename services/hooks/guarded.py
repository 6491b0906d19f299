"""An HTTP transport for webhooks that checks the address it connects to, not only the name.

`check_url` (`picket.hooks.urls`) resolves a hook's host before each try, but the HTTP client
would resolve it again to connect: a name with a short TTL could answer a public address to the
check and a private one to the connection (DNS rebinding). Here the connection is made by a
network backend that resolves the name once, refuses the connection unless every address it
resolves to may receive webhooks, and connects to the address it checked. TLS still verifies
the certificate against, and sends as SNI, the URL's host name: httpcore starts TLS with the
origin's host, whatever address the socket reached.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from picket.hooks.urls import Address, Resolve, address_for


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses `forbidden` finds nothing against (see the module)."""

    def __init__(self, resolve: Resolve | None = None, forbidden: Callable[[Address], str | None] | None = None,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._resolve = resolve
        self._forbidden = forbidden
        self._inner = inner or httpcore.AnyIOBackend()

    async def address(self, host: str, port: int) -> Address:
        """The address to connect to for `host` (`picket.hooks.urls.address_for`)."""
        found = await asyncio.to_thread(address_for, host, port, resolve=self._resolve, forbidden=self._forbidden)
        if isinstance(found, str):
            raise httpcore.ConnectError(found)
        return found

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        address = await self.address(host, port)
        return await self._inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Webhooks are not sent over Unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(limits: httpx.Limits, backend: GuardedBackend | None = None,
                      ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's transport (no proxy from the environment), its connection pool on `backend`."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx takes no network backend: its pool is made again, as httpx makes it, with one.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=backend or GuardedBackend())
    return transport

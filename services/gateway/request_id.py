"""The request id: one for each request the gateway handles, on every log line logged meanwhile.

`RequestIdMiddleware` takes the client's `X-Request-Id` when it is sane (1 to 64 characters of
`A-Z a-z 0-9 . _ -`), else makes one (16 hex digits), sets `picket.logs.REQUEST_ID` while the
request is handled and answers it as `X-Request-Id`. It is plain ASGI, cheap enough to wrap the
ingestion fast path too (`Gateway(outer=…)`, `picket.gateway.fast_path`).
"""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from picket.logs import REQUEST_ID

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's request id if it sent a sane one, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode()
            break
    return os.urandom(8).hex()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        header = (HEADER, rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)

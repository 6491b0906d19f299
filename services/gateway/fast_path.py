"""What SDKs and cron jobs send at volume, served ahead of Starlette's middleware and router.

Starlette passes each request through its error middleware, its exception middleware and a
router that tries every route's regular expression in turn before the endpoint runs: measured
on feedback envelopes, about a fifth of the gateway's CPU. Ingestion endpoints are few, known
and answer errors the same way, so `Gateway` matches them with one expression and calls the
endpoint directly, with the same error answers (`picket.gateway.errors.HANDLERS`). Everything
else, and anything that does not match exactly, takes Starlette's path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from picket.gateway.errors import error_response

Endpoint = Callable[[Request], Awaitable[Response]]


class FastRoute:
    """`path` in Starlette's syntax (`{name}` segments, no converters) and its methods."""

    def __init__(self, path: str, endpoint: Endpoint, methods: tuple[str, ...]) -> None:
        self.path = path  # the route's template, as Starlette's routes have it (metrics label by it)
        self.endpoint = endpoint
        self.methods = frozenset(methods)
        self.pattern = re.compile("".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[a-z_]+\})", path)
        ))


class Gateway(Starlette):
    """A Starlette app whose `fast` routes skip its middleware and router; `outer` middleware
    (plain ASGI, cheap: the request id) wraps both paths, the first outermost."""

    def __init__(self, *, fast: list[FastRoute], outer: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
                 **options: Any) -> None:
        super().__init__(**options)
        self.fast = fast
        self._entry: ASGIApp = self._dispatch
        for middleware in reversed(outer):
            self._entry = middleware(self._entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.fast:
                match = route.pattern.fullmatch(scope["path"])
                if match is not None and scope["method"] in route.methods:
                    scope["app"] = self
                    scope["route"] = route  # as Starlette's router does: its template labels metrics
                    scope["path_params"] = match.groupdict()
                    request = Request(scope, receive)
                    try:
                        response = await route.endpoint(request)
                    except Exception as exc:
                        response = await error_response(request, exc)
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

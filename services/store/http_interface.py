"""ClickHouse's HTTP interface, served over the embedded engine (chdb) of this process.

chdb admits one process per data directory, so on embedded defaults the worker owns the engine
and the gateway, a process of its own, reads through this server exactly as it would read a
ClickHouse server: `CLICKHOUSE_URL=http://picket:<password>@127.0.0.1:<port>` and the same
clickhouse-connect client, types and errors.

What it answers is the part of the protocol that client uses for reads and commands: the SQL in
the body (after an optional `query` parameter), bound parameters as `param_<name>`, the output
format from a trailing `FORMAT` clause (TabSeparated without one), errors as ClickHouse sends
them (status 500, the message as the body, `X-ClickHouse-Exception-Code`). Settings sent as
parameters are ignored: those the client sends concern inserts, which are not served here.
Binary inserts are refused: the processes that write own the engine. It listens on loopback,
with a password the supervisor generates for each start.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
import queue
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

USER = "picket"
_TRAILING_FORMAT = re.compile(rb"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)")
# Codes of ClickHouse's own: NOT_IMPLEMENTED, REQUIRED_PASSWORD.
NOT_IMPLEMENTED, REQUIRED_PASSWORD = 48, 194


def engine_path(clickhouse_url: str) -> str:
    """The data directory of a `chdb:///<dir>` URL, spelled as clickhouse-connect spells it (chdb
    compares engine paths literally)."""
    if not clickhouse_url.startswith("chdb:"):
        raise ValueError(f"not an embedded engine URL: {clickhouse_url!r}")
    return os.path.realpath(clickhouse_url.removeprefix("chdb://"))


class Handles:
    """A few chdb connections to this process's engine, each used by one query at a time (a
    handle does not take concurrent queries; the engine runs queries of different handles at
    once, without holding the GIL)."""

    def __init__(self, path: str, size: int = 4) -> None:
        import chdb  # here, not at the top: only the process that owns the engine loads it

        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._all = [chdb.connect(path) for _ in range(size)]
        for handle in self._all:
            self._free.put(handle)
        # Sent with every answer, as a server does: the client reads naive DateTime values in it.
        self.timezone = self._all[0].query("SELECT timezone()", "TabSeparated").bytes().decode().strip()

    @contextmanager
    def one(self) -> Iterator[Any]:
        handle = self._free.get()
        try:
            yield handle
        finally:
            self._free.put(handle)

    def close(self) -> None:
        for handle in self._all:
            handle.close()


def _sql(request: Request, body: bytes) -> bytes:
    query = request.query_params.get("query", "").encode()
    return b"\n".join(part for part in (query, body) if part)


def _error(status: int, code: int, message: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain",
                    headers={"X-ClickHouse-Exception-Code": str(code)})


def _authorized(request: Request, password: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, given = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
    else:
        user = request.headers.get("x-clickhouse-user", "")
        given = request.headers.get("x-clickhouse-key", "")
    return user == USER and hmac.compare_digest(given.encode(), password.encode())


def create_app(handles: Handles, password: str) -> Starlette:
    async def execute(request: Request) -> Response:
        if not _authorized(request, password):
            return _error(401, REQUIRED_PASSWORD, f"Code: {REQUIRED_PASSWORD}. Authentication failed.")
        external = request.headers.get("content-type", "").startswith("multipart")
        if request.headers.get("content-encoding") or external:
            return _error(501, NOT_IMPLEMENTED,
                          f"Code: {NOT_IMPLEMENTED}. Compressed or external data is not served here; "
                          "inserts belong to the process that owns the engine.")
        sql = _sql(request, await request.body())
        if not sql.strip():
            return _error(400, 62, "Code: 62. Empty query.")
        found = _TRAILING_FORMAT.search(sql)
        fmt = found.group(1).decode() if found else "TabSeparated"
        params = {k[6:]: v for k, v in request.query_params.items() if k.startswith("param_")}

        def run() -> bytes:
            with handles.one() as handle:
                return handle.query(sql.decode(), fmt, params=params).bytes()

        try:
            data = await asyncio.to_thread(run)
        except Exception as exc:  # the engine's errors carry ClickHouse's code and message
            message = str(exc)
            start = message.find("Code: ")
            message = message[start:] if start >= 0 else message
            found_code = _ERROR_CODE.search(message)
            return _error(500, int(found_code.group(1)) if found_code else 1001, message)
        return Response(data, headers={"X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": handles.timezone})

    async def ping(_: Request) -> Response:
        return Response("Ok.\n", media_type="text/plain")

    return Starlette(routes=[
        Route("/", execute, methods=["GET", "POST"]),
        Route("/ping", ping, methods=["GET", "HEAD"]),
    ])

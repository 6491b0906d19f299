"""ClickHouse's HTTP interface, served over the embedded engine (chdb) of this process.

chdb admits one process per data directory, so on embedded defaults the worker owns the engine
and the gateway, a process of its own, reads through this server exactly as it would read a
ClickHouse server: `CLICKHOUSE_URL=http://picket:<password>@127.0.0.1:<port>` and the same
clickhouse-connect client, types and errors.

What it answers is the part of the protocol that client uses for reads and commands: the SQL in
the body (after an optional `query` parameter), bound parameters as `param_<name>`, the output
format from a trailing `FORMAT` clause (TabSeparated without one), errors as ClickHouse sends
them (status 500, the message as the body, `X-ClickHouse-Exception-Code`). Once its bound
parameters pass ~4 KB (a long search, a few hundred project ids), the client sends them and the
SQL as multipart/form-data fields instead (`query`, `param_<name>`), as ClickHouse accepts them;
those are read too, while a file part (external data) is refused. Settings sent as parameters
are ignored: those the client sends concern inserts, which are not served here. Binary inserts
and compressed bodies are refused: the processes that write own the engine. It listens on
loopback, with a password the supervisor generates for each start.
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
# Codes of ClickHouse's own: NOT_IMPLEMENTED, REQUIRED_PASSWORD, CANNOT_PARSE_INPUT_ASSERTION_FAILED.
NOT_IMPLEMENTED, REQUIRED_PASSWORD, CANNOT_PARSE = 48, 194, 27
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_FIELD_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)
_FILE_NAME = re.compile(rb"\bfilename\*?=", re.IGNORECASE)


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


class ExternalData(ValueError):
    """A form part that is a file: a table sent along with the query, not served here."""


def form_fields(body: bytes, content_type: str) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (RFC 7578), by name. Raises `ExternalData` for a
    file part and ValueError for a body that is not such a form."""
    found = _BOUNDARY.search(content_type)
    if not found:
        raise ValueError("no boundary in the multipart content type")
    delimiter = b"\r\n--" + (found.group(1) or found.group(2)).encode()
    parts = (b"\r\n" + body).split(delimiter)
    fields: dict[str, bytes] = {}
    for part in parts[1:]:
        if part.startswith(b"--"):  # the close delimiter: what follows is an epilogue
            return fields
        head, separator, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a form part without a blank line after its headers")
        name = None
        for line in head.split(b"\r\n"):
            header, _, header_value = line.partition(b":")
            if header.strip().lower() == b"content-disposition":
                if _FILE_NAME.search(header_value):
                    raise ExternalData("a file part")
                named = _FIELD_NAME.search(header_value)
                name = named.group(1).decode() if named else None
        if name is None:
            raise ValueError("a form part without a name")
        fields[name] = value
    raise ValueError("the multipart body does not end with its close delimiter")


def _statement(request: Request, body: bytes) -> tuple[bytes, dict[str, str]]:
    """The SQL and its bound parameters, from the URL and the body (SQL, or form fields)."""
    params = {k[6:]: v for k, v in request.query_params.items() if k.startswith("param_")}
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return _sql(request, body), params
    fields = form_fields(body, content_type)
    query = fields.pop("query", b"")
    params.update({k[6:]: v.decode() for k, v in fields.items() if k.startswith("param_")})
    return _sql(request, query), params


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


def _refused() -> Response:
    return _error(501, NOT_IMPLEMENTED,
                  f"Code: {NOT_IMPLEMENTED}. Compressed, binary or external data is not served here; "
                  "inserts belong to the process that owns the engine.")


def create_app(handles: Handles, password: str) -> Starlette:
    async def execute(request: Request) -> Response:
        if not _authorized(request, password):
            return _error(401, REQUIRED_PASSWORD, f"Code: {REQUIRED_PASSWORD}. Authentication failed.")
        content_type = request.headers.get("content-type", "").lower()
        binary = content_type.startswith("application/octet-stream")
        if request.headers.get("content-encoding") or binary:
            return _refused()
        try:
            sql, params = _statement(request, await request.body())
            sql.decode()
        except ExternalData:
            return _refused()
        except ValueError as exc:  # a malformed form, or bytes that are not UTF-8 text
            return _error(400, CANNOT_PARSE, f"Code: {CANNOT_PARSE}. Cannot read the request: {exc}")
        if not sql.strip():
            return _error(400, 62, "Code: 62. Empty query.")
        found = _TRAILING_FORMAT.search(sql)
        fmt = found.group(1).decode() if found else "TabSeparated"

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

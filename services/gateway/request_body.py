"""Reading request bodies: the client key before the body, the body under its limits, and a budget
of body bytes for the whole process.

DSN keys are public, so whoever sends a body must not make the gateway read or inflate much of it
before it knows the sender may (reading and inflating up to 200 MiB before the key check, four
parallel 150 KB gzip bodies with an unknown key once took it from 70 MB to 960 MB), and REST
bodies must not be read whole before their 1 MiB check. So:

- Ingestion checks the DSN key from `X-Sentry-Auth`, `Authorization` or `sentry_key=` before it
  reads any of the body: unknown key 401, disabled key or another project's key 403. Only an
  envelope that carries its key in its header (`dsn`) has its first line read first: at most
  `HEADER_CAP` decoded bytes, through the streaming decoder when the body is compressed.
- A body is read as it arrives and refused with 413 as soon as it passes its limit; a declared
  `Content-Length` over the limit is refused before anything is read. Compressed bodies go
  through `envelope.Decoder`, which inflates step by step and never past the limit.
- Every body byte a request holds (as received; for a compressed body, as decoded) counts
  against the process's `Budget` (`PICKET_BODY_BUDGET`) until the request ends, however it ends.
  A request that would pass the budget gets 503 with `Retry-After`, before its body is read when
  it declared its length; one larger than the whole budget gets 413. Parsing an envelope copies
  its items, so what a request holds is up to about twice what is counted.
- An answer given before the whole body was read says `Connection: close` when the rest is large
  (over `DRAIN_LIMIT`) or of unknown length: the client need not send it, and its next request
  starts on a fresh connection. A smaller rest is read and dropped by the HTTP server after the
  answer and the connection stays usable: closing a socket with unread data makes the kernel
  reset it, and a client still sending may then fail before it reads the answer.

`Refused` carries such an answer (status, detail, headers); routes give it their error shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import ClientDisconnect, Request

from picket.schemas.entities import ProjectKey
from picket.ingest.dsn_auth import dsn_public_key, public_key_from_request
from picket.ingest.envelope import STEP, Decoder, EnvelopeError, PayloadTooLarge, parse_envelope_header

HEADER_CAP = 64 * 1024  # decoded bytes read for an envelope header before its key is known
DRAIN_LIMIT = 1024 * 1024  # an unread rest up to this is left to the HTTP server to drop
BUSY = "The gateway is busy; try again."
TOO_LARGE = "Request body too large."


class Refused(Exception):
    """A request answered while its body is being read, or before. `close`: the connection is
    closed after the answer (see `closes_connection`)."""

    def __init__(self, status: int, detail: str, *, close: bool, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers: dict[str, str] = {}
        if close:
            self.headers["Connection"] = "close"
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


class OverBudget(Exception):
    """No room in the budget; `permanent` when the request alone is larger than all of it."""

    def __init__(self, permanent: bool) -> None:
        super().__init__("over the body budget")
        self.permanent = permanent


class Budget:
    """Body bytes held by the requests of this process, at most `capacity` at any time (the event
    loop is the only writer, so no lock)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0

    def lease(self) -> Lease:
        return Lease(self)


class Lease:
    """One request's share of a `Budget`, given back when the `with` block ends."""

    def __init__(self, budget: Budget) -> None:
        self._budget = budget
        self.size = 0

    def hold(self, size: int) -> None:
        """Grow this request's share to `size` bytes (never shrinks); `OverBudget` if no room."""
        extra = size - self.size
        if extra <= 0:
            return
        if size > self._budget.capacity:
            raise OverBudget(permanent=True)
        if self._budget.used + extra > self._budget.capacity:
            raise OverBudget(permanent=False)
        self._budget.used += extra
        self.size = size

    def release(self) -> None:
        self._budget.used -= self.size
        self.size = 0

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def declared_length(request: Request) -> int | None:
    """The request's `Content-Length`, or None without a usable one."""
    value = request.headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else None


def closes_connection(request: Request, received: int = 0) -> bool:
    """Whether an answer given once `received` bytes of the body were read should close the
    connection: the rest is of unknown length (chunked) or larger than `DRAIN_LIMIT`."""
    declared = declared_length(request)
    if declared is None:
        return "chunked" in request.headers.get("transfer-encoding", "").lower()
    return declared - received > DRAIN_LIMIT


class BodyReader:
    """A request body read as it arrives: at most `raw_limit` bytes on the wire and `limit`
    decoded, counted in `lease`. Raises `Refused` (and `EnvelopeError` for an unknown encoding,
    at construction); `done` tells whether the whole body was received."""

    def __init__(self, request: Request, lease: Lease, *, raw_limit: int, limit: int,
                 content_encoding: str | None = None) -> None:
        self._decoder = Decoder(content_encoding, limit)
        self._request = request
        self._chunks: AsyncIterator[bytes] = request.stream()
        self._lease = lease
        self._raw_limit = raw_limit
        self._raw = 0
        self._parts: list[bytes] = []  # decoded so far
        self.declared = declared_length(request)
        self.done = False
        self._reserved = False  # the declared length is counted, not only what arrived
        if self.declared is not None and self.declared > raw_limit:
            raise Refused(413, TOO_LARGE, close=closes_connection(request))

    @property
    def close(self) -> bool:
        """Whether an answer now should close the connection (`closes_connection`)."""
        return not self.done and closes_connection(self._request, self._raw)

    @property
    def held(self) -> int:
        return self._decoder.size if not self._decoder.identity else self._raw

    def reserve(self) -> None:
        """Count the declared length now: a request the budget has no room for is refused before
        its body is read."""
        self._reserved = True
        self._hold(self.held)

    async def first_line(self, cap: int) -> bytes:
        """The body up to its first newline (or its end), read and decoded no further than
        needed; `Refused` (400) when the line is longer than `cap`, or not found in the first
        `2 * cap` bytes received (compressed data that decodes to nothing)."""
        scanned = 0  # parts known to hold no newline
        while True:
            for index in range(scanned, len(self._parts)):
                newline = self._parts[index].find(b"\n")
                if newline >= 0:
                    return b"".join(self._parts[:index]) + self._parts[index][:newline]
            scanned = len(self._parts)
            if self._decoder.size > cap or self._raw > 2 * cap:
                raise Refused(400, f"The envelope header is longer than {cap} bytes.", close=self.close)
            if not await self._more(cap + 1 - self._decoder.size):
                return b"".join(self._parts)

    async def read(self) -> bytes:
        """The whole decoded body."""
        while await self._more(STEP):
            pass
        return self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)

    async def _more(self, step: int) -> bool:
        """One step: decode up to `step` more bytes (an identity body: one more piece) or, when
        what was received is used up, receive one more chunk; False once the body is over."""
        try:
            piece = self._decoder.take(step)
            if piece:
                self._parts.append(piece)
                self._hold(self.held)
                return True
            if self.done:
                return False
            chunk = await self._next_chunk()
            if chunk is None:
                self.done = True
                self._decoder.close()
            else:
                self._raw += len(chunk)
                if self._raw > self._raw_limit:
                    raise Refused(413, TOO_LARGE, close=self.close)
                self._decoder.feed(chunk)
                self._hold(self.held)
            return True
        except PayloadTooLarge as exc:
            raise Refused(413, exc.detail, close=self.close) from None
        except EnvelopeError as exc:
            raise Refused(400, exc.detail, close=self.close) from None

    async def _next_chunk(self) -> bytes | None:
        try:
            while True:
                chunk = await anext(self._chunks, None)
                if chunk != b"":
                    return chunk
        except ClientDisconnect:
            raise Refused(400, "The request body was not received completely.", close=False) from None

    def _hold(self, size: int) -> None:
        try:
            self._lease.hold(max(size, self.declared or 0) if self._reserved else size)
        except OverBudget as exc:
            if exc.permanent:
                raise Refused(413, TOO_LARGE, close=self.close) from None
            raise Refused(503, BUSY, close=self.close, retry_after=1) from None


async def read_body(request: Request, lease: Lease, limit: int) -> bytes:
    """A plain (uncompressed) body of at most `limit` bytes; `Refused` otherwise."""
    reader = BodyReader(request, lease, raw_limit=limit, limit=limit)
    reader.reserve()
    return await reader.read()


KeyLookup = Callable[[str], Awaitable[ProjectKey | None]]


async def read_ingest_body(request: Request, *, project_id: int, keys: KeyLookup, raw_limit: int, limit: int,
                           lease: Lease, envelope: bool, path_key: str | None = None) -> tuple[ProjectKey, bytes]:
    """The checked client key of an ingestion request and its decoded body.

    The key comes from the path (`path_key`), the headers or the query, checked before any of the
    body is read; when
    none carries one and the body is an envelope (`envelope`), from the `dsn` of its header,
    read first (at most `HEADER_CAP` bytes). Raises `Refused`: 401 for a missing or unknown key,
    403 for a disabled one or one of another project, 400 for a malformed body or header line,
    413 over the limits, 503 over the budget.
    """
    try:
        reader = BodyReader(request, lease, raw_limit=raw_limit, limit=limit,
                            content_encoding=request.headers.get("content-encoding"))
    except EnvelopeError as exc:
        raise Refused(400, exc.detail, close=closes_connection(request)) from None
    public = path_key or public_key_from_request(request.headers, request.query_params, None)
    if public is None and envelope:
        line = await reader.first_line(HEADER_CAP)
        try:
            dsn = parse_envelope_header(line).get("dsn")
        except EnvelopeError as exc:
            raise Refused(400, exc.detail, close=reader.close) from None
        public = dsn_public_key(dsn) if isinstance(dsn, str) else None
    key = checked_key(await keys(public) if public else None, public, project_id, close=reader.close)
    reader.reserve()
    return key, await reader.read()


def checked_key(key: ProjectKey | None, public: str | None, project_id: int, *, close: bool) -> ProjectKey:
    """`key` if it may send to `project_id`, else `Refused` with Sentry's status."""
    if not public:
        raise Refused(401, "Missing DSN key: send X-Sentry-Auth or sentry_key.", close=close)
    if key is None:
        raise Refused(401, "Unknown DSN key.", close=close)
    if not key.is_active:
        raise Refused(403, "This DSN key is disabled.", close=close)
    if key.project_id != project_id:
        raise Refused(403, "This DSN key does not belong to the project in the URL.", close=close)
    return key


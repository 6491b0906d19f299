"""Reading request bodies: the DSN key is checked before the body is read, bodies are read and
decoded under their limits, and a process-wide budget of body bytes answers 503 when full.

Requests here are Starlette requests over a scripted ASGI `receive`, which records how much of
the body the reader asked for: "not read" means not one chunk was received.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from datetime import datetime, timezone
from typing import Any

import brotli
import pytest
from starlette.requests import Request

from picket.schemas.entities import ProjectKey
from picket.gateway.request_body import (
    DRAIN_LIMIT,
    HEADER_CAP,
    Budget,
    OverBudget,
    Refused,
    read_body,
    read_ingest_body,
)
from picket.ingest.limits import KIB, MIB

PUBLIC = "0123456789abcdef" * 2
UNKNOWN_KEY = "0" * 32
KEY = ProjectKey(id=1, org_id=2, project_id=42, label="Default", public=PUBLIC, secret="s" * 32,
                 date_created=datetime(2026, 11, 27, tzinfo=timezone.utc))
DSN = f"http://{PUBLIC}@picket.test/42"
ENVELOPE = b'{"dsn":"' + DSN.encode() + b'"}\n{"type":"event"}\n{"message":"hi"}\n'


class Body:
    """An ASGI `receive` giving `chunks` one by one, counting how many were taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.taken >= len(self.chunks):
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = self.chunks[self.taken]
        self.taken += 1
        return {"type": "http.request", "body": chunk, "more_body": self.taken < len(self.chunks)}


def request(body: Body, headers: dict[str, str] | None = None, query: str = "") -> Request:
    scope = {
        "type": "http", "method": "POST", "path": "/api/42/envelope/", "root_path": "",
        "query_string": query.encode(), "server": ("picket.test", 80), "scheme": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    return Request(scope, body)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


async def lookup(public: str) -> ProjectKey | None:
    keys = {PUBLIC: KEY, "d" * 32: ProjectKey(**{**_fields(KEY), "public": "d" * 32, "is_active": False}),
            "e" * 32: ProjectKey(**{**_fields(KEY), "public": "e" * 32, "project_id": 7})}
    return keys.get(public)


def _fields(key: ProjectKey) -> dict[str, Any]:
    return {f: getattr(key, f) for f in key.__struct_fields__}


def ingest(body: Body, headers: dict[str, str] | None = None, query: str = "", *, budget: Budget | None = None,
           limit: int = 10 * MIB, envelope: bool = True) -> tuple[ProjectKey, bytes]:
    async def run() -> tuple[ProjectKey, bytes]:
        with (budget or Budget(256 * MIB)).lease() as lease:
            return await read_ingest_body(request(body, headers, query), project_id=42, keys=lookup,
                                          raw_limit=limit, limit=limit, lease=lease, envelope=envelope)
    return asyncio.run(run())


def refused(fn: Any) -> Refused:
    with pytest.raises(Refused) as raised:
        fn()
    return raised.value


# --------------------------------------------------------------------------------------------
# The key before the body


@pytest.mark.parametrize(
    ("headers", "query", "status", "detail"),
    [
        ({"X-Sentry-Auth": f"Sentry sentry_key={'0' * 32}, sentry_version=7"}, "", 401, "Unknown DSN key."),
        ({"Authorization": f"Sentry sentry_key={'f' * 32}"}, "", 401, "Unknown DSN key."),
        ({"Authorization": f"DSN http://{'1' * 32}@h/42"}, "", 401, "Unknown DSN key."),
        ({}, f"sentry_key={'a' * 5000}", 401, "Unknown DSN key."),
        ({}, f"sentry_key={'d' * 32}", 403, "This DSN key is disabled."),
        ({}, f"sentry_key={'e' * 32}", 403, "This DSN key does not belong to the project in the URL."),
    ],
    ids=["x-sentry-auth-unknown", "authorization-sentry-unknown", "authorization-dsn-unknown",
         "query-long-garbage", "disabled", "other-project"],
)
def test_a_key_from_headers_or_query_is_refused_without_reading_the_body(headers, query, status, detail):
    bomb = gzip.compress(bytes(10 * MIB))
    body = Body([bomb])
    error = refused(lambda: ingest(body, {**headers, "Content-Encoding": "gzip", "Content-Length": str(len(bomb))},
                                   query))
    assert (error.status, error.detail) == (status, detail)
    assert body.taken == 0
    assert "Connection" not in error.headers  # ~10 KB unread: the server drops it, the connection stays


@pytest.mark.parametrize(
    ("headers", "close"),
    [({"Content-Length": str(DRAIN_LIMIT)}, False), ({"Content-Length": str(DRAIN_LIMIT + 1)}, True),
     ({"Transfer-Encoding": "chunked"}, True), ({}, False)],
    ids=["small-rest", "large-rest", "chunked", "no-body"],
)
def test_an_early_answer_closes_the_connection_when_the_unread_rest_is_large_or_unknown(headers, close):
    error = refused(lambda: ingest(Body([b"{}"]), {**headers, "X-Sentry-Auth": f"sentry_key={UNKNOWN_KEY}"}))
    assert error.status == 401 and ("Connection" in error.headers) is close
    if close:
        assert error.headers["Connection"] == "close"


def test_a_missing_key_on_store_is_refused_without_reading():
    body = Body([b'{"message": "legacy"}'])
    error = refused(lambda: ingest(body, envelope=False))
    assert (error.status, body.taken) == (401, 0)
    assert "Missing DSN key" in error.detail


def test_a_good_header_key_reads_the_whole_body():
    body = Body(pieces(ENVELOPE, 5))
    key, data = ingest(body, {"X-Sentry-Auth": f"Sentry sentry_key={PUBLIC}"})
    assert key == KEY and data == ENVELOPE and body.taken == len(body.chunks)


def test_a_header_key_wins_over_the_envelope_dsn_which_is_then_not_read_first():
    body = Body(pieces(ENVELOPE.replace(PUBLIC.encode(), b"0" * 32), 8))
    key, _ = ingest(body, query=f"sentry_key={PUBLIC}")
    assert key == KEY


# --------------------------------------------------------------------------------------------
# The envelope header's dsn: its first line only, before the key is known


def test_an_unknown_dsn_in_the_envelope_header_is_refused_after_reading_its_first_line_only():
    unknown = ENVELOPE.replace(PUBLIC.encode(), b"0" * 32) + b"x" * (2 * MIB)
    body = Body(pieces(unknown, 16))
    error = refused(lambda: ingest(body, {"Content-Length": str(len(unknown))}))
    assert (error.status, error.detail) == (401, "Unknown DSN key.")
    first_line = unknown.index(b"\n") + 1
    assert body.taken * 16 <= first_line + 16  # the chunk with the newline, not one more
    assert error.headers["Connection"] == "close"  # 2 MiB left unread


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", lambda d: brotli.compress(d, quality=5))],
)
def test_an_unknown_dsn_in_a_compressed_bomb_is_refused_after_decoding_little(encoding, encode):
    # 50 MiB once inflated, its dsn in the first line: only that line is decoded.
    bomb = encode(ENVELOPE.replace(PUBLIC.encode(), b"0" * 32) + bytes(50 * MIB))
    body = Body(pieces(bomb, 4 * KIB))
    budget = Budget(256 * MIB)
    error = refused(lambda: ingest(body, {"Content-Encoding": encoding}, budget=budget, limit=200 * MIB))
    assert (error.status, error.detail) == (401, "Unknown DSN key.")
    assert body.taken <= 2  # a few KiB of the compressed body
    assert budget.used == 0


def test_a_known_dsn_in_a_compressed_envelope_header_reads_the_rest():
    body = Body(pieces(gzip.compress(ENVELOPE), 7))
    key, data = ingest(body, {"Content-Encoding": "gzip"})
    assert key == KEY and data == ENVELOPE


def test_an_envelope_header_past_the_cap_is_a_400_without_reading_on():
    bomb = gzip.compress(bytes(50 * MIB))  # no newline at all
    body = Body(pieces(bomb, 4 * KIB))
    error = refused(lambda: ingest(body, {"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"}))
    assert error.status == 400 and f"longer than {HEADER_CAP} bytes" in error.detail
    assert body.taken <= 2 and error.headers["Connection"] == "close"


def test_a_header_line_sent_a_byte_at_a_time_is_scanned_once():
    body = Body([b"x"] * (HEADER_CAP + 10))
    started = time.perf_counter()
    error = refused(lambda: ingest(body))
    assert error.status == 400 and body.taken == HEADER_CAP + 1
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_data_that_decodes_to_nothing_is_read_no_further_than_twice_the_cap(encoding):
    empty_blocks = b"\x00\x00\x00\xff\xff" * (MIB // 5)  # stored blocks of no bytes, none final
    head = gzip.compress(b"")[:10] if encoding == "gzip" else zlib.compress(b"")[:2]
    body = Body(pieces(head + empty_blocks, KIB))
    error = refused(lambda: ingest(body, {"Content-Encoding": encoding}))
    assert error.status == 400 and "longer than" in error.detail
    assert body.taken * KIB <= 2 * HEADER_CAP + KIB


@pytest.mark.parametrize(
    ("first_line", "fragment"),
    [(b'{"dsn":"\xff"}', "not valid UTF-8"), (b'{"sdk":' + b"[" * 3000 + b"]" * 3000 + b"}", "nested more than"),
     (b"", "missing envelope header"), (b"nope", "not JSON")],
    ids=["utf8", "deep", "blank", "garbage"],
)
def test_a_bad_envelope_header_read_for_its_dsn_is_a_400(first_line, fragment):
    error = refused(lambda: ingest(Body([first_line + b"\n{}\n"])))
    assert error.status == 400 and fragment in error.detail


def test_an_envelope_of_one_line_without_newline_finds_its_dsn():
    line = b'{"dsn":"' + DSN.encode() + b'"}'
    assert ingest(Body([line])) == (KEY, line)


def test_without_any_key_the_envelope_is_refused_after_its_first_line():
    body = Body([b'{"event_id":null}\n', b'{"type":"event"}\n{}\n'])
    error = refused(lambda: ingest(body))
    assert error.status == 401 and "Missing DSN key" in error.detail and body.taken == 1


# --------------------------------------------------------------------------------------------
# Limits while reading


def test_a_declared_length_over_the_limit_is_a_413_before_reading():
    body = Body([b"x" * 100])
    error = refused(lambda: ingest(body, {"Content-Length": str(10 * MIB + 1), "X-Sentry-Auth": f"sentry_key={PUBLIC}"}))
    assert (error.status, body.taken, error.headers["Connection"]) == (413, 0, "close")


def test_an_undeclared_body_past_the_limit_stops_being_read_at_the_limit():
    body = Body([b"x" * 64 * KIB] * 1000)  # 64 MiB
    error = refused(lambda: ingest(body, query=f"sentry_key={PUBLIC}", limit=MIB))
    assert error.status == 413
    assert body.taken == 17  # 16 pieces make the limit: the 17th passes it


def test_a_body_inflating_past_the_limit_is_a_413_with_the_limit_in_the_detail():
    body = Body(pieces(gzip.compress(ENVELOPE + bytes(20 * MIB)), 64 * KIB))
    error = refused(lambda: ingest(body, {"Content-Encoding": "gzip"}, limit=MIB))
    assert error.status == 413 and "exceeds the limit" in error.detail


def test_corrupt_compressed_data_is_a_400():
    error = refused(lambda: ingest(Body([b"not gzip at all"]), {"Content-Encoding": "gzip"}, f"sentry_key={PUBLIC}"))
    assert error.status == 400 and "corrupt gzip" in error.detail


def test_an_unsupported_encoding_is_a_400_before_reading():
    body = Body([b"x"])
    error = refused(lambda: ingest(body, {"Content-Encoding": "zstd"}, f"sentry_key={PUBLIC}"))
    assert (error.status, body.taken) == (400, 0)


def test_a_client_that_goes_away_is_a_400_for_an_incomplete_body():
    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def run() -> None:
        with Budget(MIB).lease() as lease:
            await read_ingest_body(Request(request(Body([]), query=f"sentry_key={PUBLIC}").scope, gone), project_id=42, keys=lookup,
                                   raw_limit=MIB, limit=MIB, lease=lease, envelope=False)

    with pytest.raises(Refused) as raised:
        asyncio.run(run())
    assert raised.value.status == 400 and "not received completely" in raised.value.detail


# --------------------------------------------------------------------------------------------
# The budget of body bytes


def test_a_lease_holds_what_it_is_given_and_gives_it_back_however_the_block_ends():
    budget = Budget(100)
    with budget.lease() as lease:
        lease.hold(30)
        lease.hold(20)  # never shrinks
        assert (lease.size, budget.used) == (30, 30)
    assert budget.used == 0
    with pytest.raises(RuntimeError), budget.lease() as lease:
        lease.hold(60)
        raise RuntimeError("the request failed")
    assert budget.used == 0


def test_a_lease_past_the_budget_is_refused_and_one_past_its_whole_size_permanently():
    budget = Budget(100)
    with budget.lease() as first, budget.lease() as second:
        first.hold(70)
        with pytest.raises(OverBudget) as raised:
            second.hold(31)
        assert not raised.value.permanent
        second.hold(30)
        with pytest.raises(OverBudget) as raised:
            second.hold(101)
        assert raised.value.permanent
        assert budget.used == 100


def test_a_declared_length_the_budget_has_no_room_for_is_a_503_before_reading():
    budget = Budget(MIB)
    body = Body([b"x" * 100])
    with budget.lease() as other:
        other.hold(MIB - 10)
        error = refused(lambda: ingest(body, {"Content-Length": "100"}, f"sentry_key={PUBLIC}", budget=budget))
    assert (error.status, error.detail, body.taken) == (503, "The gateway is busy; try again.", 0)
    assert error.headers == {"Retry-After": "1"}  # 100 bytes unread: the connection stays
    assert budget.used == 0


def test_an_undeclared_body_counts_as_it_arrives_and_decoded_bytes_count_for_compressed_bodies():
    budget = Budget(2 * MIB)
    body = Body(pieces(gzip.compress(ENVELOPE + bytes(3 * MIB)), 64 * KIB))
    error = refused(lambda: ingest(body, {"Content-Encoding": "gzip"}, f"sentry_key={PUBLIC}", budget=budget))
    assert error.status == 413  # larger than the whole budget: waiting would not help
    assert budget.used == 0


def test_a_request_holds_its_body_until_its_lease_ends():
    budget = Budget(10 * MIB)

    async def run() -> int:
        with budget.lease() as lease:
            await read_ingest_body(request(Body(pieces(ENVELOPE, 10)), query=f"sentry_key={PUBLIC}"),
                                   project_id=42, keys=lookup, raw_limit=MIB, limit=MIB, lease=lease, envelope=True)
            return budget.used

    assert asyncio.run(run()) == len(ENVELOPE)
    assert budget.used == 0


# --------------------------------------------------------------------------------------------
# Plain (REST) bodies


def test_read_body_refuses_a_declared_length_over_the_limit_without_reading():
    body = Body([b"{}"])

    async def run() -> bytes:
        with Budget(MIB).lease() as lease:
            return await read_body(request(body, {"Content-Length": str(MIB + 1)}), lease, MIB)

    error = refused(lambda: asyncio.run(run()))
    assert (error.status, error.detail, body.taken) == (413, "Request body too large.", 0)


def test_read_body_stops_an_undeclared_body_at_the_limit():
    body = Body([b" " * 64 * KIB] * 100)

    async def run() -> bytes:
        with Budget(10 * MIB).lease() as lease:
            return await read_body(request(body), lease, MIB)

    error = refused(lambda: asyncio.run(run()))
    assert error.status == 413 and body.taken == 17

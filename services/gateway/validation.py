"""REST request bodies: JSON decoded into a route's shape under size and depth limits, and the
checks of names and slugs that bodies carry. Every refusal is an `ApiError` with a detail."""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec
from starlette.requests import Request

from picket import json_input
from picket.gateway.errors import ApiError, bad_request
from picket.gateway.request_body import Refused, read_body
from picket.gateway.runtime import runtime
from picket.tenancy.slugs import INVALID_SLUG, is_valid_slug, slugify

T = TypeVar("T")
MAX_BODY = 1 << 20
# REST bodies are flat (a monitor's config is the deepest, at 3): this leaves room to spare.
MAX_BODY_DEPTH = 64
# Integers of REST bodies, bounded by where they land, so none overflows later in msgpack, Kafka
# or ClickHouse: counts (rate limits, delays, resolveAge) as Sentry's Postgres integer columns,
# ids as Picket's (`picket.ids`: 53 bits).
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Id = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]


async def body(request: Request, shape: type[T]) -> T:
    """Decode and validate a JSON body into `shape`.

    Over `MAX_BODY` bytes → 413 (before reading when `Content-Length` says so, else as soon as
    it grows past it); not UTF-8, nested deeper than `MAX_BODY_DEPTH` (checked before msgspec
    recurses), malformed, or not `shape` (an integer outside its field's bounds included) → 400
    with a detail. The body counts against the process's body budget while it is read (503 when
    there is no room)."""
    with runtime(request).body_budget.lease() as lease:
        try:
            raw = await read_body(request, lease, MAX_BODY)
        except Refused as exc:
            raise ApiError(exc.status, exc.detail, exc.headers) from None
    if not raw.strip():
        raw = b"{}"
    try:
        json_input.check(raw, MAX_BODY_DEPTH)
    except json_input.JsonInputError as exc:
        raise bad_request(f"Invalid request body: {exc.detail}.") from None
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError as exc:
        raise bad_request(f"Invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise bad_request("Malformed JSON in request body.") from None


def checked_slug(slug: str | None, name: str | None, what: str) -> str:
    """The slug given, or the one derived from the name; 400 if neither yields a valid one."""
    if slug is None:
        if not name or not name.strip():
            raise bad_request(f"{what} name or slug is required.")
        slug = slugify(name)
        if not slug or slug.isdigit():
            raise bad_request("Cannot derive a valid slug from this name; give a slug.")
    if not is_valid_slug(slug):
        raise bad_request(INVALID_SLUG)
    return slug


def checked_name(name: str, what: str) -> str:
    """`name` stripped; 400 unless 1 to 64 characters remain."""
    name = name.strip()
    if not name or len(name) > 64:
        raise bad_request(f"Invalid {what} name: it must be 1 to 64 characters.")
    return name


def query_lists(request: Request) -> dict[str, list[str]]:
    """The query string as every value of each parameter, in order (repeated ones included)."""
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params

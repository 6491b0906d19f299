"""What handlers share: settings, the store, the authenticator and the command bus.

Handlers reach it as `runtime(request)`; it is built once in the app's lifespan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from aiokafka import AIOKafkaProducer
from starlette.requests import Request

from picket import json_input
from picket.config import Settings
from picket.gateway.auth import Authenticator
from picket.gateway.commands import CommandBus
from picket.gateway.errors import ApiError, bad_request, not_found
from picket.gateway.horizons import Horizons
from picket.gateway.keys import KeyCache
from picket.gateway.rate_limits import RateLimiter
from picket.gateway.request_body import Budget, Refused, read_body
from picket.ingest.limits import DEFAULT_LIMITS, Limits
from picket.store import entities
from picket.store.client import Store

T = TypeVar("T")
MAX_BODY = 1 << 20
# REST bodies are flat (a monitor's config is the deepest, at 3): this leaves room to spare.
MAX_BODY_DEPTH = 64
# Integers of REST bodies, bounded by where they land, so none overflows later in msgpack, Kafka
# or ClickHouse: counts (rate limits, delays, resolveAge) as Sentry's Postgres integer columns,
# ids as Picket's (`picket.ids`: 53 bits).
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Id = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    auth: Authenticator
    bus: CommandBus
    producer: AIOKafkaProducer
    publisher: Any  # services.bus.publisher: each request's ingest messages all or none
    keys: KeyCache
    rate_limiter: RateLimiter
    horizons: Horizons
    body_budget: Budget
    limits: Limits = DEFAULT_LIMITS

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store read in a worker thread."""
        return await asyncio.to_thread(fn, self.store, *args, **kwargs)

    async def org_records(self, org_id: int, *kinds: str) -> dict[str, list[Any]]:
        return await self.read(entities.select_many, kinds or ("team", "project", "member"), org_id)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def org_resource(request: Request, any_of: tuple[str, ...], kind: str, param: str) -> tuple[Any, ...]:
    """(runtime, org access, the `kind` record whose slug is path parameter `param`, the org's
    records) — 404 when the organization or the record does not exist."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], any_of)
    records = await rt.org_records(access.organization.id)
    slug = request.path_params[param]
    found = next((r for r in records[kind] if r.slug == slug), None)
    if found is None:
        raise not_found()
    return rt, access, found, records


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


def path_int(value: str) -> int | None:
    """A numeric path id, or None when the value cannot name anything (→ 404 by the caller)."""
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None

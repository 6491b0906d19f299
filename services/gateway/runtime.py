"""What handlers share: settings, the store, the authenticator and the command bus.

Handlers reach it as `runtime(request)`; it is built once in the app's lifespan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from services.config import Settings
from services.gateway.auth import Authenticator
from services.gateway.commands import CommandBus
from services.gateway.errors import bad_request
from services.store import entities
from services.store.client import Store

T = TypeVar("T")
MAX_BODY = 1 << 20


@dataclass
class Runtime:
    settings: Settings
    store: Store
    auth: Authenticator
    bus: CommandBus

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store read in a worker thread."""
        return await asyncio.to_thread(fn, self.store, *args, **kwargs)

    async def org_records(self, org_id: int, *kinds: str) -> dict[str, list[Any]]:
        return await self.read(entities.select_many, kinds or ("team", "project", "member"), org_id)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def body(request: Request, shape: type[T]) -> T:
    """Decode and validate a JSON body into `shape`; 400 with a detail on anything else."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise bad_request("Request body too large.")
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError as exc:
        raise bad_request(f"Invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise bad_request("Malformed JSON in request body.") from None


def path_int(value: str) -> int | None:
    """A numeric path id, or None when the value cannot name anything (→ 404 by the caller)."""
    return int(value) if value.isdigit() and len(value) < 20 else None
